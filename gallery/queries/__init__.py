"""Every SQL statement facefind runs, as named constants with $n parameters, one module per
area."""
