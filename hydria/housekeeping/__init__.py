"""Housekeeping: orphan instances, leaked addresses, expired DELETED rows."""
