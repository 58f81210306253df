"""`bitconv plan ...` (to be written)."""


def add_parser(sub):
    p = sub.add_parser("plan", help="show, validate and convert bitwidth plans")
    p.set_defaults(func=lambda args: print("not implemented yet") or 1)
