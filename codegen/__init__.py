"""Build-time generator: vendor spec + overlay -> IR -> generated/<vendor>/."""
