"""Tests of the HTML report (vmreports), unit and in headless Chromium."""
