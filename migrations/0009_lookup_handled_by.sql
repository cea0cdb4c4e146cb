-- Reason: recognition workers on other machines (issue 8). A lookup records which worker
-- process analysed it (facefind@host:pid), so an answer can be traced to the machine that
-- made it.
ALTER TABLE lookups ADD COLUMN handled_by text;
