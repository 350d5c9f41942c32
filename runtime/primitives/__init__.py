"""Primitive types and codecs of the chain: transactions, headers, receipts, keys."""
