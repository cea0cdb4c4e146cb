-- Reason: a face's leads (issue 14). Each identity goes to one face of a photo, by descending
-- similarity; another face that also matches it shows it too, with its own score, as a lead
-- and not as its candidate. held_by_face is the number of the face that holds the identity;
-- NULL for a face's own candidates (every row before this migration).
ALTER TABLE lookup_candidates ADD COLUMN held_by_face integer;
