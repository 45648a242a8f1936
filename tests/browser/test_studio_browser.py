"""The studio in a real browser: what a hotline owner sees and does, without touching YAML.

The example hotline (a copy) renders with every node; a node's form opens
from the graph; a bad value shows `flow validate`'s message on its field
until it is fixed; a node and a branch added in the page save to a file
`flow validate` accepts with its comments intact; a rehearsed call lights
up the path `voice-agent simulate --json` prints; and the main actions work
from the keyboard alone.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.flow.loader import load_flow
from agent.studio.app import create_studio_app
from tests.browser.support import CALLERS, ServedStudio, hotline_copy

TIMEOUT_MS = 10_000


@pytest.fixture()
def flow(tmp_path: Path) -> Path:
    return hotline_copy(tmp_path)


@pytest.fixture()
def page(browser, flow: Path):
    with ServedStudio(create_studio_app(flow)) as served:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        expected = "the server responded with a status of 422"  # a refused save: the page shows why
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and expected not in m.text else None)
        page.goto(served.url)
        page.wait_for_selector("body[data-ready=true]")
        yield page
        context.close()
        assert errors == [], errors  # no script error, refused resource or CSP violation on the page during the test


def cli(*args: str):
    """The `voice-agent` command, in a thread of this process (a new process spends seconds importing Pipecat;
    this thread runs Playwright's event loop, and `simulate` starts its own)."""
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(CliRunner().invoke, app, list(args)).result(timeout=120)
    result.returncode = result.exit_code
    return result


def graph_nodes(page) -> list[str]:
    return page.evaluate("studio.graph.cy.nodes().filter(n => !n.id().startsWith('\\u0000')).map(n => n.id())")


def click_graph_node(page, node_id: str, *, shift: bool = False) -> None:
    """A real mouse click where Cytoscape drew the node (once the view stopped moving; zoomed out to it if it is
    out of view, as a user would)."""
    still(page)
    page.evaluate(
        """(id) => { const cy = studio.graph.cy; const b = cy.getElementById(id).renderedBoundingBox();
                     if (b.x1 < 0 || b.y1 < 0 || b.x2 > cy.width() || b.y2 > cy.height()) cy.fit(undefined, 20); }""",
        node_id,
    )
    x, y = page.evaluate(
        """(id) => { const n = studio.graph.cy.getElementById(id); const p = n.renderedPosition();
                     const r = studio.graph.cy.container().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""",
        node_id,
    )
    if shift:
        page.keyboard.down("Shift")
    page.mouse.click(x, y)
    if shift:
        page.keyboard.up("Shift")


def still(page) -> None:
    """Wait until the graph's view stops moving (polled from here: the page's CSP forbids the eval that
    Playwright's wait_for_function polls with, and the page must work under its CSP)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while page.evaluate("studio.graph.cy.animated()"):
        assert time.monotonic() < deadline, "the graph kept moving"
        time.sleep(0.03)


def settled(page) -> None:
    """Wait for the checks of every edit so far (they run a moment after typing stops)."""
    page.evaluate("studio.settled()")


def as_js(path: tuple) -> str:
    """A field's path as the page writes it (JSON.stringify: no spaces)."""
    return json.dumps(list(path), separators=(",", ":"))


def field(page, *path: str | int):
    return page.locator(f"#node-form [data-input-path='{as_js(path)}']")


def field_error(page, *path: str | int):
    return page.locator(f"#node-form [data-error-for='{as_js(path)}']")


def test_the_example_hotline_renders_with_every_node(page, flow: Path, shots) -> None:
    expected = list(load_flow(flow).nodes)
    assert graph_nodes(page) == expected
    assert page.locator("#node-list button").all_inner_texts()[0] == "screen (block numbers)"
    assert page.locator("#node-list button").count() == len(expected)
    assert page.locator("#status").inner_text() == f"valid ({len(expected)} nodes)"
    edges = page.evaluate("studio.graph.cy.edges().map(e => [e.source().id(), e.target().id(), e.data('label')])")
    assert ["hours", "voicemail", "outside"] in edges
    assert ["agent", "alert", "intent incident\nintent system_outage\nintent security_breach\nintent technical_support"] in edges
    shots(page, "hotline")


def test_selecting_a_node_shows_its_form(page, shots) -> None:
    click_graph_node(page, "agent")
    assert page.locator("#node-form h2 code").inner_text() == "agent"
    assert page.locator("#node-id").input_value() == "agent"
    assert page.locator("#node-type").input_value() == "ai_agent"
    assert field(page, "greeting").input_value() == "Hello, I'm ACME's on-call assistant. What's going on?"
    assert field(page, "intents", "inquiry").input_value() == "inquiry_message"
    assert field(page, "max_turns").input_value() == "25"
    shots(page, "agent-form")
    click_graph_node(page, "hours")
    assert field(page, "timezone").input_value() == "Europe/Berlin"
    assert field(page, "during").input_value() == "agent"
    shots(page, "hours-form")
    # Clicking a branch arrow opens its node at that branch.
    still(page)
    x, y = page.evaluate(
        """() => { const e = studio.graph.cy.edges().filter(e => e.source().id() === 'screen' && e.target().id() === 'blocked_goodbye');
                   const p = e.renderedMidpoint(); const r = studio.graph.cy.container().getBoundingClientRect();
                   return [r.left + p.x, r.top + p.y]; }"""
    )
    page.mouse.click(x, y)
    assert page.locator("#node-form h2 code").inner_text() == "screen"
    assert page.evaluate("document.activeElement.dataset.inputPath") == '["blocked"]'
    shots(page, "branch-clicked")


def test_an_invalid_value_shows_the_validators_message_on_its_field_until_fixed(page, flow: Path, shots) -> None:
    click_graph_node(page, "hours")
    field(page, "timezone").fill("Europe/Berln")
    error = field_error(page, "timezone")
    error.get_by_text("unknown time zone `Europe/Berln`; did you mean `Europe/Berlin`?").wait_for()
    assert "Fix: use `Europe/Berlin`" in error.inner_text()
    assert field(page, "timezone").get_attribute("aria-invalid") == "true"
    assert page.locator("#status").inner_text() == "1 problem"
    assert page.evaluate("studio.graph.cy.getElementById('hours').hasClass('problem')")
    # The message is flow validate's own for the same file.
    copy = flow.with_name("check.yaml")
    copy.write_text(flow.read_text().replace("timezone: Europe/Berlin\n    hours:", "timezone: Europe/Berln\n    hours:"))
    assert "node `hours`: unknown time zone `Europe/Berln`; did you mean `Europe/Berlin`? Fix: use `Europe/Berlin`" in cli("flow", "validate", str(copy)).stderr
    shots(page, "invalid-timezone")
    before = flow.read_text()
    page.keyboard.press("Control+S")  # refused: the flow does not validate
    page.locator("#message").get_by_text("not saved: the flow does not validate (save anyway to keep it as it is).").wait_for()
    assert page.locator("#save-anyway").is_visible() and flow.read_text() == before
    shots(page, "save-refused")
    page.click("#tab-node")
    field(page, "timezone").fill("Europe/Berlin")
    page.locator("#status").get_by_text("valid (11 nodes)").wait_for()
    assert error.inner_text() == ""
    assert field(page, "timezone").get_attribute("aria-invalid") is None
    assert not page.evaluate("studio.graph.cy.getElementById('hours').hasClass('problem')")
    assert not page.locator("#save-anyway").is_visible()
    shots(page, "fixed")


def test_a_node_and_a_branch_added_in_the_page_save_to_a_valid_file_with_its_comments(page, flow: Path, shots) -> None:
    before = flow.read_text()
    page.click("#add-node")
    page.fill("#add-id", "no_message")
    page.select_option("#add-type", "hangup")
    shots(page, "add-node")
    page.click("#add-form button[type=submit]")
    page.locator("#node-form h2 code").get_by_text("no_message").wait_for()
    field(page, "text").fill("No message was recorded. Please call again. Goodbye.")
    page.locator("#status").get_by_text("1 problem").wait_for()  # unreachable until a branch leads to it
    assert "no_message" in page.evaluate("studio.state.graph.unreachable")
    shots(page, "unreachable")
    click_graph_node(page, "voicemail")
    click_graph_node(page, "no_message", shift=True)  # Shift+click: connect a branch of voicemail to no_message
    assert page.locator("#connect-target").input_value() == "no_message"
    assert page.evaluate("document.activeElement.id") == "connect-branch"
    page.select_option("#connect-branch", label="not_left")
    page.click("#connect")
    assert field(page, "not_left").input_value() == "no_message"
    page.locator("#status").get_by_text("valid (12 nodes)").wait_for()
    assert ["voicemail", "no_message", "not_left"] in page.evaluate(
        "studio.graph.cy.edges().map(e => [e.source().id(), e.target().id(), e.data('label')])"
    )
    page.click("#tab-yaml")  # what Save will write
    assert "    not_left: no_message\n" in page.locator("#yaml").inner_text()
    shots(page, "yaml-preview")
    page.click("#save")
    page.locator("#message").get_by_text("Saved hotline.yaml.").wait_for()
    shots(page, "saved")
    assert page.locator("#yaml").inner_text() == flow.read_text()
    validated = cli("flow", "validate", str(flow))
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.strip() == f"{flow}: ok (12 nodes)"
    after = flow.read_text()
    assert [line for line in before.splitlines() if "#" in line] == [line for line in after.splitlines() if "#" in line]
    assert "    not_left: no_message\n" in after
    assert "  no_message:\n    type: hangup\n    text: No message was recorded. Please call again. Goodbye.\n" in after


def test_a_rehearsed_call_lights_up_the_path_voice_agent_simulate_prints(page, flow: Path, shots) -> None:
    page.click("#tab-rehearse")
    page.select_option("#r-script", "new_outage")
    shots(page, "rehearse")
    page.click("#r-run")
    page.locator("#outcome h3").wait_for()
    simulated = cli("simulate", str(flow), "--caller", str(CALLERS / "new_outage.yaml"), "--json")
    assert simulated.returncode == 0, simulated.stderr
    path = json.loads(simulated.stdout)["outcome"]["nodes"]
    assert path == ["screen", "greeting", "hours", "agent", "alert", "page_oncall"]
    lit = page.evaluate("studio.graph.visited()")
    assert sorted(lit) == sorted(path)
    assert page.locator("#r-path").get_attribute("data-nodes") == " ".join(path)
    assert page.locator("#r-path").inner_text() == "Path: " + " → ".join(path)
    assert page.evaluate("studio.graph.cy.getElementById('page_oncall').hasClass('current')")
    assert not page.evaluate("studio.graph.cy.getElementById('voicemail').hasClass('visited')")
    assert page.locator(".transcript .step").first.inner_text() == "→ screen → greeting → hours → agent"
    assert page.locator(".transcript .tool").first.inner_text().startswith("tool record_details({")
    assert page.locator(".transcript .tool", has_text="saved: incident = ").count() >= 1
    assert page.locator(".expect.good").inner_text() == "The script's expect block matches."
    shots(page, "rehearsed")


def press_until_focused(page, selector: str, key: str = "Tab", limit: int = 200) -> None:
    """Press ``key`` until the element ``selector`` has the focus, as a keyboard user moves through the page."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{selector} never got the focus with {key}")


def test_the_main_actions_work_from_the_keyboard_alone(page, flow: Path, shots) -> None:
    # Select a node from the list of nodes, edit a field.
    press_until_focused(page, "#node-list button[data-node=greeting]")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "node-id"
    press_until_focused(page, "[data-input-path='[\"text\"]']")
    page.keyboard.press("Control+A")
    page.keyboard.type("You've reached ACME's on-call hotline.")
    # Add a node with Alt+N, connect it with a branch, save with Ctrl+S.
    page.keyboard.press("Alt+N")
    assert page.evaluate("document.activeElement.id") == "add-id"
    page.keyboard.type("no_message")
    page.keyboard.press("Tab")
    page.keyboard.type("hangup")  # a focused <select> picks the option typed
    press_until_focused(page, "#add-form button[type=submit]")
    page.keyboard.press("Enter")
    page.locator("#node-form h2 code").get_by_text("no_message").wait_for()
    press_until_focused(page, "#node-list button[data-node=voicemail]")
    page.keyboard.press("Enter")
    press_until_focused(page, "[data-input-path='[\"not_left\"]']")
    page.keyboard.type("no_message")
    page.locator("#status").get_by_text("valid (12 nodes)").wait_for()
    shots(page, "keyboard-edited")
    page.keyboard.press("Control+S")
    page.locator("#message").get_by_text("Saved hotline.yaml.").wait_for()
    assert cli("flow", "validate", str(flow)).returncode == 0
    assert "  greeting:\n    type: audio_message\n    text: You've reached ACME's on-call hotline.\n" in flow.read_text()
    # Rehearse: the tabs follow the arrow keys; play the caller.
    press_until_focused(page, "#tab-node")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-rehearse"
    press_until_focused(page, "#r-at")
    page.keyboard.type("2026-11-25T10:00:00+01:00")
    press_until_focused(page, "#r-start")
    page.keyboard.press("Enter")
    page.locator(".transcript .agent").get_by_text("What's going on?").wait_for()
    assert page.locator("#r-waits").inner_text() == "The call waits for speech or keys."
    assert page.evaluate("document.activeElement.id") == "r-say"
    page.keyboard.type("put me through to a person please")
    page.keyboard.press("Enter")
    page.locator(".transcript .caller").get_by_text("put me through to a person please").wait_for()
    page.locator("#outcome h3").wait_for()  # put through: the engineer answers, the call is over
    assert page.evaluate("studio.graph.visited()") == ["screen", "greeting", "hours", "agent", "page_oncall"]
    assert page.locator("#outcome dd").first.inner_text() == "talk_to_human"
    assert page.evaluate("document.activeElement.id") == "r-start"  # ready for the next call
    shots(page, "keyboard-rehearsed")


def test_a_plugin_sources_own_options_are_edited_in_the_page(page, flow: Path, shots) -> None:
    before = flow.read_text()
    click_graph_node(page, "agent")
    option = field(page, "enrichment", "sources", 0, "path")
    assert option.input_value() == "../facts/acme.yaml"
    option.fill("../facts/gone.yaml")
    error = field_error(page, "enrichment", "sources", 0)
    error.get_by_text("static facts file").wait_for()
    assert "gone.yaml does not exist" in error.inner_text()
    shots(page, "source-option-invalid")
    option.fill("../facts/acme.yaml")
    settled(page)
    assert page.locator("#status").inner_text() == "valid (11 nodes)"
    new_option = page.locator(f"#node-form [data-path='{as_js(('enrichment', 'sources', 0, '*options'))}'] .kv-new")
    new_option.fill("timeout_note")  # an option the plugin does not take
    new_option.press("Enter")
    field(page, "enrichment", "sources", 0, "timeout_note").fill("slow on Mondays")
    settled(page)
    assert "source 'static': timeout_note: Extra inputs are not permitted" in error.inner_text()
    shots(page, "source-option-refused")
    page.get_by_role("button", name="Remove timeout_note").click()
    field(page, "enrichment", "sources", 0, "name").fill("acme facts")
    settled(page)
    assert page.locator("#status").inner_text() == "valid (11 nodes)"
    page.click("#save")
    page.locator("#message").get_by_text("Saved hotline.yaml.").wait_for()
    assert flow.read_text() == before.replace(
        "          path: ../facts/acme.yaml\n", "          path: ../facts/acme.yaml\n          name: acme facts\n"
    )


def test_renaming_and_deleting_nodes_keep_the_graph_and_the_problems_in_step(page, flow: Path, shots) -> None:
    click_graph_node(page, "voicemail")
    page.fill("#node-id", "closed")
    page.press("#node-id", "Enter")
    settled(page)
    edges = page.evaluate("studio.graph.cy.edges().map(e => [e.source().id(), e.target().id(), e.data('label')])")
    assert ["hours", "closed", "outside"] in edges and ["page_oncall", "closed", "no_answer"] in edges
    assert page.locator("#status").inner_text() == "valid (11 nodes)"
    shots(page, "renamed")
    click_graph_node(page, "inquiry_message")
    page.click("#node-delete")
    settled(page)
    assert page.locator("#status").inner_text() == "1 problem"
    dangling = page.evaluate("studio.graph.cy.edges('.dangling').map(e => [e.source().id(), e.data('label')])")
    assert dangling == [["agent", "intent inquiry"]]
    shots(page, "deleted")
    page.click("#tab-problems")
    problem = page.locator("#problems button")
    assert problem.inner_text().endswith(
        "node `agent`: branch `intent inquiry` points to `inquiry_message`, which is not a node. Fix: use one of the node ids "
        "(screen, blocked_goodbye, greeting, hours, agent, alert, page_oncall, known_goodbye, closed, thanks_goodbye) or leave it "
        "empty to end the call there"
    )
    problem.click()  # opens the node at the field
    assert page.evaluate("document.activeElement.dataset.inputPath") == '["intents","inquiry"]'
    page.keyboard.press("Control+A")
    page.keyboard.type("known_goodbye")
    settled(page)
    assert page.locator("#status").inner_text() == "valid (10 nodes)"
    page.keyboard.press("Control+S")
    page.locator("#message").get_by_text("Saved hotline.yaml.").wait_for()
    text = flow.read_text()
    assert "  closed:\n    type: voicemail\n" in text and "inquiry_message" not in text
    assert cli("flow", "validate", str(flow)).returncode == 0


def test_the_graph_downloads_as_mermaid_svg_and_png(page, flow: Path, tmp_path: Path) -> None:
    page.click(".menu summary")
    downloads = {}
    for button, name in (("#export-mermaid", "mmd"), ("#export-svg", "svg"), ("#export-png", "png")):
        with page.expect_download() as info:
            page.click(button)
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        downloads[name] = path
    assert downloads["mmd"].name == "hotline.mmd"
    assert downloads["mmd"].read_text() == cli("flow", "show", str(flow)).stdout
    svg = downloads["svg"].read_text()
    assert svg.startswith("<svg xmlns=\"http://www.w3.org/2000/svg\"")
    assert all(f">{node}" in svg for node in load_flow(flow).nodes)  # every node's label is in the drawing
    assert downloads["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_ilert_call_flow_imported_in_the_page_is_drawn_and_saved_to_the_opened_file(page, flow: Path, shots) -> None:
    export = Path(__file__).parents[1] / "fixtures" / "ilert" / "call-flow.json"
    page.click(".menu summary")
    page.set_input_files("#import-ilert", str(export))
    page.locator("#message").get_by_text("Imported call-flow.json; save to write it to hotline.yaml.").wait_for()
    settled(page)
    imported = page.evaluate("Object.keys(studio.state.data.nodes)")
    assert graph_nodes(page) == imported and "screen" not in imported
    shots(page, "imported")
    assert page.locator("#status").inner_text() == f"valid ({len(imported)} nodes)"
    page.click("#save")
    page.locator("#message").get_by_text("Saved hotline.yaml.").wait_for()
    assert flow.read_text() == cli("flow", "import-ilert", str(export)).stdout  # what the command line would write


def test_undo_brings_back_a_deleted_node(page, flow: Path) -> None:
    before = flow.read_text()
    click_graph_node(page, "inquiry_message")
    page.click("#node-delete")
    settled(page)
    assert "inquiry_message" not in graph_nodes(page)
    page.click("#undo")
    settled(page)
    assert "inquiry_message" in graph_nodes(page)
    assert page.locator("#status").inner_text() == "valid (11 nodes)"
    page.keyboard.press("Control+S")
    page.locator("#message").get_by_text("Saved hotline.yaml.").wait_for()
    assert flow.read_text() == before
