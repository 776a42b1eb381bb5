"""Goodword: a self-hosted referral pipeline for B2B sales and customer-success teams."""

__version__ = "0.1.0"
