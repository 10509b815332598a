"""The signature scikit-learn reads parameters from, for subclasses that forward ``**kwargs``."""

import inspect


def merged_signature(cls):
    """``cls.__init__``'s signature with the ``**kwargs`` it forwards spelled out.

    A subclass may write ``def __init__(self, *, width=16, **kwargs)`` and
    pass ``kwargs`` on; scikit-learn reads parameters from the signature, so
    the parent's parameters are added to it (the subclass's defaults win).
    Returns None when ``__init__`` takes no ``**kwargs``.
    """
    init = cls.__dict__["__init__"]
    signature = inspect.signature(init)
    params = list(signature.parameters.values())
    if not any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    own = [p for p in params if p.kind != p.VAR_KEYWORD]
    names = {p.name for p in own}
    parent = inspect.signature(super(cls, cls).__init__)
    inherited = [
        p.replace(kind=p.KEYWORD_ONLY)
        for p in parent.parameters.values()
        if p.name not in names and p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    positional = [p for p in own if p.kind != p.KEYWORD_ONLY]
    keyword = [p for p in own if p.kind == p.KEYWORD_ONLY]
    return signature.replace(parameters=positional + keyword + inherited)
