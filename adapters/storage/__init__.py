"""Port: the database (peewee; SQLite by default, PostgreSQL by DATABASE_URL).

tables.py declares the tables, database.py opens the database and migrates its schema,
repository.py is the synchronous API (domain types in and out), trade_history.py reads P&L back."""
