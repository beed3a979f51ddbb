"""I/O adapters: the Spark session and SQL loading, storage chosen by URL scheme, the publish protocol."""
