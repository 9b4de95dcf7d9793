"""`DatasetError`: data that cannot be read as it is, and what to do."""


class DatasetError(ValueError):
    """A dataset that cannot be used as it is.

    The message names the folder or file at fault and the fix (e.g. a corrupt
    image, a folder with one class, grayscale and colour images mixed).
    Callers show it as it is, without another hint.

    Example:

    >>> try:
    ...     keras_mixkd.data.load("folder:empty")
    ... except keras_mixkd.data.DatasetError as e:
    ...     print(e)
    """
