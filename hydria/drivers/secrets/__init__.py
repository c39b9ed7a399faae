"""The secret-store seam: where listener and pool TLS material comes from."""
