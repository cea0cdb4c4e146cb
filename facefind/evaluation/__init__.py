"""`facefind eval`: the accuracy check, its report and its plots."""
