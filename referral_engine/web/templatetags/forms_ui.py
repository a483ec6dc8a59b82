"""Render form controls with their accessible wiring: `aria-describedby` pointing at the help text
and the errors shown next to the field, `aria-invalid` when there are errors."""

from django import forms, template

register = template.Library()


def _ids(bound_field) -> str:
    base = bound_field.auto_id or bound_field.html_name
    ids = []
    if bound_field.help_text:
        ids.append(f"{base}-help")
    if bound_field.errors:
        ids.append(f"{base}-errors")
    return " ".join(ids)


@register.filter
def control(bound_field):
    attrs = {}
    described = _ids(bound_field)
    widget = bound_field.field.widget
    grouped = isinstance(widget, forms.RadioSelect | forms.CheckboxSelectMultiple)
    if described and not grouped:
        attrs["aria-describedby"] = described
    if bound_field.errors and not grouped:
        attrs["aria-invalid"] = "true"
    if bound_field.field.required and not grouped and not isinstance(widget, forms.HiddenInput):
        attrs["required"] = True
    return bound_field.as_widget(attrs=attrs)


@register.filter
def described_by(bound_field) -> str:
    return _ids(bound_field)


@register.filter
def is_choice_group(bound_field) -> bool:
    return isinstance(bound_field.field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple)


@register.filter
def is_checkbox(bound_field) -> bool:
    return isinstance(bound_field.field.widget, forms.CheckboxInput)


@register.filter
def field_id(bound_field) -> str:
    return bound_field.auto_id or bound_field.html_name
