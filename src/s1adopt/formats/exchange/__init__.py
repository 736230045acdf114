"""Files of the migration programme's exchange: their names, schemas, readers and writers."""
