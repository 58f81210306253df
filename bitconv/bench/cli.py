"""`bitconv bench` and `bitconv probe` (to be written)."""


def add_parsers(sub):
    for name in ("bench", "probe"):
        p = sub.add_parser(name)
        p.set_defaults(func=lambda args: print("not implemented yet") or 1)
