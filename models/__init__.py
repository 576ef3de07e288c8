"""Pure domain logic: types, messages, P&L, exit rules, sizing, win probability, tables.

Nothing in this package reads the clock, sleeps, or does I/O (the peewee tables are
declarations; the Store actor does the writing).
"""
