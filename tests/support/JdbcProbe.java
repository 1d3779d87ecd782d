// A bank's JDBC client (PostgreSQL's own driver) on its serving database: the metadata calls a SQL
// tool makes on connecting (schemas, tables, columns, privileges), then a query. Prints what it saw.
// Run as a single-file program: java -cp postgresql.jar JdbcProbe.java URL USER PASSWORD_FILE SCHEMA
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

public class JdbcProbe {
    public static void main(String[] args) throws Exception {
        String password = Files.readString(Path.of(args[2])).strip();
        String schema = args[3];
        try (Connection conn = DriverManager.getConnection(args[0], args[1], password)) {
            DatabaseMetaData meta = conn.getMetaData();
            System.out.println("user " + meta.getUserName());
            try (ResultSet r = meta.getSchemas()) {
                while (r.next()) System.out.println("schema " + r.getString("TABLE_SCHEM"));
            }
            try (ResultSet r = meta.getTables(null, schema, "%", new String[] {"TABLE", "VIEW"})) {
                while (r.next()) System.out.println("table " + r.getString("TABLE_NAME"));
            }
            try (ResultSet r = meta.getColumns(null, schema, "ads_branch_daily", "%")) {
                while (r.next()) System.out.println("column " + r.getString("COLUMN_NAME"));
            }
            try (ResultSet r = meta.getTablePrivileges(null, schema, "ads_branch_daily")) {
                while (r.next()) System.out.println("privilege " + r.getString("GRANTEE") + " " + r.getString("PRIVILEGE"));
            }
            try (Statement s = conn.createStatement();
                    ResultSet r = s.executeQuery("select count(*) from ads_branch_daily")) {
                r.next();
                System.out.println("rows " + r.getLong(1));
            }
        }
    }
}
