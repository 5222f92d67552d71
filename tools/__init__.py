"""Development tools run by `make lint`; nothing in the product imports them."""
