"""Thin resolvers: decode the arguments, call the domain, return what it returns."""
