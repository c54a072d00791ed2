"""Config models that set the same fields share one fields-set object (``StrictModel``)."""

from __future__ import annotations

from vigil.config.alerts import AlertRule


def rule(name: str, **more: object) -> AlertRule:
    return AlertRule.model_validate({"name": name, "expr": f"up{{job={name!r}}} == 0", **more})


def test_rules_that_set_the_same_fields_share_one_set() -> None:
    a, b = rule("A"), rule("B")
    assert a.model_fields_set == {"name", "expr"}
    assert a.__pydantic_fields_set__ is b.__pydantic_fields_set__
    c = rule("C", severity="P1")
    assert c.model_fields_set == {"name", "expr", "severity"}
    assert c.__pydantic_fields_set__ is not a.__pydantic_fields_set__


def test_a_copy_with_changes_leaves_the_shared_set_alone() -> None:
    a, b = rule("A"), rule("B")
    changed = a.model_copy(update={"severity": "P1"})
    assert changed.model_fields_set == {"name", "expr", "severity"}
    assert a.model_fields_set == b.model_fields_set == {"name", "expr"}
    assert a.model_dump(exclude_unset=True) == {"name": "A", "expr": "up{job='A'} == 0"}
