"""Output shapes: every object the API answers with, declared once.

A shape is a documentation-only DRF serializer: drf-spectacular turns it into the
OpenAPI component of the same name, less "Shape" (``LeadShape`` -> ``Lead``; see
``leads.api.schema``); nothing is rendered through it. The dicts themselves are built
by plain functions (``leads.core.representations`` and the like), because a list renders
up to 100 leads per request: a DRF serializer is several times slower, and a
renderer driven by the declared fields measured about 30% slower than the
hand-written dict.

``@renders(SomeShape)`` ties a function to the shape of the dict it returns.
``leads/tests/test_shapes.py`` renders every tied function and validates the result
against its shape's generated schema, in which every object is closed and every
key is required unless declared ``required=False``: a key added to the function and
not to the shape fails it, and so does a key added to the shape and not to the
function.
"""

from collections.abc import Callable

from rest_framework import serializers


# The declared form of one output object (documentation and contract only). No
# docstring: drf-spectacular would show it as every component's description.
class Shape(serializers.Serializer):
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # drf-spectacular names a component after Meta.ref_name when there is one.
        cls.Meta = type("Meta", (), {"ref_name": cls.__name__.removesuffix("Shape")})


# Each renderer and the shape of what it returns, filled by ``@renders`` at import.
RENDERERS: dict[Callable[..., dict], type[Shape]] = {}


def renders(shape: type[Shape]) -> Callable:
    """Ties the decorated function to ``shape``; returns the function unchanged (no cost per call)."""

    def tie(function: Callable[..., dict]) -> Callable[..., dict]:
        RENDERERS[function] = shape
        return function

    return tie


def text(**kwargs) -> serializers.CharField:
    return serializers.CharField(allow_blank=True, **kwargs)


def choice(choices, **kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, **kwargs)


def datetime_field(**kwargs) -> serializers.DateTimeField:
    kwargs.setdefault("help_text", "ISO 8601 in UTC, ending in Z.")
    return serializers.DateTimeField(**kwargs)
