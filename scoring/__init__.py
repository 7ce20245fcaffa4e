"""Transcript + call records -> results: key points, metrics, forms, scorecards, training.

A pure library over plain dataclasses: no database, no web, no ASR.
"""
