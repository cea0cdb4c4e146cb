"""Investigations: watchlists that alert the moment a watched identity is a candidate, and
unknown faces kept as sightings, grouped into unknown persons and recognised when they come
back."""
