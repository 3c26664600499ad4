"""Plain classes of named fields, in place of :mod:`dataclasses` where start-up counts.

``import dataclasses`` loads :mod:`inspect` (~10 ms) and every ``@dataclass`` ``exec``-s its
generated methods (~0.5 ms a class): together ~20 ms of each ``simwarden run`` and of each
``run_simulation`` job. A :class:`Fields` subclass is declared as a dataclass is::

    class Point(Fields, frozen=True):
        x: float
        y: float = 0.0
        tags: list[str] = field(default_factory=list)

and behaves as one: an ``__init__`` taking the fields by position or keyword (defaults, a fresh
default per instance from ``default_factory``, ``__post_init__`` called when defined), equality
of the same class field by field, the dataclass ``repr``, and with ``frozen=True`` an assignment
raising :class:`FrozenError` (an AttributeError, as ``FrozenInstanceError`` is) and a hash of the
fields. A class's own ``__init__``/``__repr__``/``__eq__`` is kept. A class that declares
``__slots__`` writes its own ``__init__``: its slots are its fields. ``dataclasses.replace``,
``fields`` and ``asdict`` do not apply: use :meth:`Fields.replace`, :meth:`Fields.field_names`
and :meth:`Fields.as_dict`. Stdlib only, and no ``typing`` at run time.
"""

from __future__ import annotations

# typing costs ~5 ms of start-up and is needed only by type checkers here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**_options: object) -> object:
        """At run time, nothing: it only tells type checkers that subclasses are dataclasses."""
        return lambda target: target


__all__ = ["Fields", "FrozenError", "field"]


class FrozenError(AttributeError):
    """A field of a frozen :class:`Fields` class was assigned or deleted."""


class DefaultFactory:
    """A field's default made by calling ``make`` for each new instance (see :func:`field`)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is ``default_factory()``, made afresh for each instance (a list or
    dict default shared by every instance would be a bug), as ``dataclasses.field`` does."""
    return DefaultFactory(default_factory)  # type: ignore[return-value]


@dataclass_transform(field_specifiers=(field,))
class Fields:
    """The base of a plain class of named fields (see the module's docstring).

    Edge cases: an unknown or repeated argument, a missing one, or too many positional ones
    raise TypeError as a dataclass's ``__init__`` does; a field without a default after one with
    a default is refused when the class is made (TypeError)."""

    __slots__: tuple[str, ...] = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, *, frozen: bool = False, **options: Any) -> None:
        super().__init_subclass__(**options)
        if "__slots__" in cls.__dict__:  # written by hand: its slots are its fields
            cls._fields = cls.__slots__
            return
        own, defaults = _declared(cls)
        cls._fields = tuple(dict.fromkeys((*cls._fields, *own)))
        cls._defaults = {**cls._defaults, **defaults}
        _check_order(cls)
        if "__init__" not in cls.__dict__:
            cls.__init__ = _init  # type: ignore[assignment]
        if frozen:
            cls.__setattr__ = _refuse_assignment  # type: ignore[assignment,method-assign]
            cls.__delattr__ = _refuse_assignment  # type: ignore[assignment,method-assign]
            if "__hash__" not in cls.__dict__:
                cls.__hash__ = _hash  # type: ignore[assignment,method-assign]

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The fields, in declaration order (a base class's first)."""
        return cls._fields

    def as_dict(self) -> dict[str, Any]:
        """Field name -> value, in declaration order (values are not copied, unlike
        ``dataclasses.asdict``, and a nested Fields stays an object)."""
        return {name: getattr(self, name) for name in self._fields}

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (``__post_init__`` runs again, as with
        ``dataclasses.replace``); an unknown name raises TypeError."""
        return type(self)(**{**self.as_dict(), **changes})

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"{type(self).__qualname__}({values})"


def _declared(cls: type[Fields]) -> tuple[list[str], dict[str, Any]]:
    """The fields ``cls`` itself annotates (not ClassVar) and their defaults; a factory's
    marker is taken off the class (an instance always has its own value)."""
    annotations = cls.__dict__.get("__annotations__", {})
    own = [name for name, kind in annotations.items() if not str(kind).startswith("ClassVar")]
    defaults: dict[str, Any] = {}
    for name in own:
        if name in cls.__dict__:
            defaults[name] = cls.__dict__[name]
            if isinstance(defaults[name], DefaultFactory):
                delattr(cls, name)
    return own, defaults


def _check_order(cls: type[Fields]) -> None:
    seen_default = None
    for name in cls._fields:
        if name in cls._defaults:
            seen_default = name
        elif seen_default is not None:
            raise TypeError(
                f"{cls.__qualname__}: field {name!r} without a default follows {seen_default!r}"
            )


def _init(self: Fields, *args: Any, **kwargs: Any) -> None:
    """The ``__init__`` of every declared (not hand-written) Fields class."""
    cls = type(self)
    names = cls._fields
    if len(args) > len(names):
        raise TypeError(f"{cls.__qualname__}() takes {len(names)} arguments, got {len(args)}")
    values = dict(zip(names, args, strict=False))
    for name, value in kwargs.items():
        if name not in names or name in values:
            problem = "an unexpected" if name not in names else "a second value for"
            raise TypeError(f"{cls.__qualname__}() got {problem} argument {name!r}")
        values[name] = value
    set_field = object.__setattr__  # a frozen class refuses self.name = value
    for name in names:
        if name in values:
            set_field(self, name, values[name])
            continue
        if name not in cls._defaults:
            raise TypeError(f"{cls.__qualname__}() missing the argument {name!r}")
        default = cls._defaults[name]
        set_field(self, name, default.make() if isinstance(default, DefaultFactory) else default)
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def _refuse_assignment(self: Fields, name: str, *_value: Any) -> None:
    raise FrozenError(f"cannot assign to field {name!r} of a frozen {type(self).__qualname__}")


def _hash(self: Fields) -> int:
    return hash(tuple(self.as_dict().values()))
