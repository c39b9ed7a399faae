"""Housekeeping: orphan instances, leaked addresses, expired DELETED rows,
amphora certificate rotation, and listener and pool certificates near their end."""
