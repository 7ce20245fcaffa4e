"""The demo: the real Harper Valley calls and a generated bilingual call center."""
