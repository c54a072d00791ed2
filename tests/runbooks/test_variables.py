"""Which ``$VAR``s and placeholders a step needs, how it is shown, and what is redacted."""

from __future__ import annotations

import pytest

from vigil.config.secrets import Redactor
from vigil.errors import StepInputError
from vigil.runbooks.model import Step, StepKind
from vigil.runbooks.variables import check_params, expand, fill, needed, placeholders, run_redactor


def shell(code: str) -> Step:
    return Step(1, "bash", StepKind.SHELL, code, "", 1)


@pytest.mark.parametrize(
    ("code", "names"),
    [
        ('psql $DATABASE_URL -c "SELECT 1"', ["DATABASE_URL"]),
        ('railway run "redis-cli -u ${REDIS_URL} ping"', ["REDIS_URL"]),
        ('curl -H "api-key: $QDRANT_API_KEY" $QDRANT_URL/collections', ["QDRANT_API_KEY", "QDRANT_URL"]),
        ("# export DATABASE_URL=$OLD_URL\necho ok", []),  # a comment line
        ("echo ok  # uses $NOTHING", []),  # a trailing comment
        ("echo '$NOT_EXPANDED'", []),  # single quotes
        ('echo "it\'s $HOME_DIR"', ["HOME_DIR"]),  # a single quote inside double quotes is literal
        ("echo ${LOG_LEVEL:-INFO} ${A-x} ${B:=y} ${C:+z}", []),  # defaults
        ("echo ${REQUIRED:?set it}", ["REQUIRED"]),
        ('export URL="postgresql://..."\nalembic -x url=$URL upgrade head', []),  # assigned by the script
        ("for f in *.dump; do echo $f; done", []),
        ("read -r answer; echo $answer", []),
        ("echo $1 $? $$ $# $@ $(date +%s) $((1 + 2))", []),  # specials, positionals, substitutions
        ("echo $RANDOM $PWD $LINENO", []),  # set by bash itself
        ("echo \\$ESCAPED", []),
        ("cat <<'EOF'\n$LITERAL\nEOF\necho $AFTER", ["AFTER"]),
        ("cat <<EOF\n$INSIDE\nEOF", ["INSIDE"]),
        ("echo $'a\\'$NO'", []),
    ],
)
def test_the_variables_a_shell_step_needs(code: str, names: list[str]) -> None:
    assert needed(StepKind.SHELL, code) == names


@pytest.mark.parametrize(
    ("code", "wanted"),
    [
        ("gh pr merge <PR_NUMBER> --merge --delete-branch", ["PR_NUMBER"]),
        ('curl -H "Authorization: Bearer <TOKEN>" https://x', ["TOKEN"]),
        ("gh run view <run-id> --log", ["run-id"]),
        ("git reset --hard <commit>\ngit push --force origin main", ["commit"]),
        ("open https://railway.app/project/[id]", ["id"]),
        ("curl -H 'X-Api-Key: YOUR_API_KEY' https://x", ["YOUR_API_KEY"]),
        ("# Use <this> in a comment\necho ok", []),
        ("grep '[a-z]' file; [ -f x ] && [[ $a == b ]]", []),  # a character range, tests
        ("pg_restore -d db < backup.dump", []),  # a redirection
        ("echo $((a<b)) > out", []),
    ],
)
def test_placeholders_outside_comments(code: str, wanted: list[str]) -> None:
    assert [p.name for p in placeholders(shell(code))] == wanted


def test_params_fill_placeholders_by_name_whatever_the_case() -> None:
    step = shell("git checkout <commit> && gh pr view <PR_NUMBER> [id]")
    assert fill(step, check_params({"COMMIT": "abc123", "pr_number": "42", "id": "7"})) == (
        "git checkout abc123 && gh pr view 42 7"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"commit": "a b"}, "may hold only letters"),
        ({"commit": "`id`"}, "may hold only letters"),
        ({"commit": "x'y"}, "may hold only letters"),
        ({"commit": "-rf"}, "may not start with '-'"),
        ({"commit": "é"}, "may hold only letters"),
        ({"bad name!": "x"}, "a name is letters"),
        ({"commit": "a" * 257}, "at most 256"),
        ({f"p{i}": "x" for i in range(51)}, "at most 50"),
    ],
)
def test_unsafe_params_are_refused(params: dict[str, str], message: str) -> None:
    with pytest.raises(StepInputError, match=message):
        check_params(params)


def test_the_shown_step_expands_variables_outside_single_quotes() -> None:
    code = "psql $DATABASE_URL -c 'SELECT $1' # $DATABASE_URL\necho ${LEVEL:-INFO}"
    env = {"DATABASE_URL": "postgresql://app:pw@db/app"}
    assert expand(StepKind.SHELL, code, env) == (
        "psql postgresql://app:pw@db/app -c 'SELECT $1' # $DATABASE_URL\necho INFO"
    )


def test_the_run_redactor_masks_secret_variables_and_url_passwords() -> None:
    code = 'curl -H "api-key: $QDRANT_API_KEY" $QDRANT_URL; psql $DATABASE_URL; echo $LOG_LEVEL'
    env = {
        "QDRANT_API_KEY": "qk-123456",
        "QDRANT_URL": "https://x.qdrant.io:6333",
        "DATABASE_URL": "postgresql://app:dbpass@db:5432/app",
        "LOG_LEVEL": "INFO",
        "STRIPE_SECRET_KEY": "sk_live_0123456789",  # not in the step, printed by `env` all the same
        "USE_AUTH": "true",  # too short to mask when the step does not name it
    }
    redact = run_redactor(Redactor({"from-the-stack"}), StepKind.SHELL, code, env)
    text = "qk-123456 https://x.qdrant.io:6333 dbpass from-the-stack INFO db:5432 sk_live_0123456789 true"
    assert redact(text) == "*** https://x.qdrant.io:6333 *** *** INFO db:5432 *** true"
