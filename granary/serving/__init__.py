"""What a bank's loan systems and analysts read: its serving database, publish, access audit."""
