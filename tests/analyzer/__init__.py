"""Analyzer tests."""
