"""readerlab's Odoo-like POS adapter (driver protocol 1, server-driven smart readers)."""
