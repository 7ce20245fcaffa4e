"""Importers: call manifests with transcripts, mystery-shopper results, Harper Valley."""
