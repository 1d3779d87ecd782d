"""The services a machine runs for Granary: the Spark server and cluster, Kafka, Airflow, the worker."""
