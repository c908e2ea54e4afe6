"""The page: the controls of the time axis and the panels of the selected step.

One `RunPage(source)` per browser tab (or notebook cell). A slider, step buttons, play/pause,
'go to' and the scenario's marks choose the step; while the run is being written the page
follows its newest step until the user moves away from it ('follow' brings it back). A thread
of the page looks at the store once a second (a moment's read-only look, `RunSource.progress`)
and redraws when the run has grown or a background computation has finished.
"""

from __future__ import annotations

import threading

import solara

from analysis.viewer.source import RunSource
from analysis.viewer.state import StepState, parse_step, step_state
from analysis.viewer.widgets import Part

#: Seconds between two looks at the store.
POLL_S = 1.0
#: Seconds between two steps while playing.
PLAY_S = 0.5


@solara.component
def Controls(state: StepState, playing: solara.Reactive[bool], following: solara.Reactive[bool],
             go: solara.Reactive[int], source: RunSource) -> None:
    typed = solara.use_reactive("")
    message = solara.use_reactive("")

    def move(step: int) -> None:
        following.set(False)
        go.set(min(max(step, state.first), state.last))

    def go_to(text: str) -> None:
        typed.set(text)
        found = parse_step(source, text, state.step) if text.strip() else None
        if found is None:
            message.set(f"not understood: {text!r}" if text.strip() else "")
            return
        message.set("")
        move(found)

    with solara.Row(style={"align-items": "center", "flex-wrap": "wrap", "gap": "6px"}):
        solara.Button("◀", on_click=lambda: move(state.step - state.stride), text=True)
        solara.Button("pause" if playing.value else "play",
                      on_click=lambda: playing.set(not playing.value), outlined=True)
        solara.Button("▶", on_click=lambda: move(state.step + state.stride), text=True)
        solara.v.Html(tag="span", children=[state.label], attributes={
            "data-step": str(state.step), "data-first": str(state.first),
            "data-last": str(state.last), "data-status": state.progress.status or "unknown"},
            style_="font-weight: bold; margin: 0 8px")
        if state.progress.live:
            solara.Checkbox(label="follow the run", value=following)
        solara.InputText("go to", value=typed.value, on_value=go_to, continuous_update=False)
        if state.marks:
            labels = [label for label, _ in state.marks]
            solara.Select("jump to", values=labels, value=None,
                          on_value=lambda label: move(dict(state.marks)[label]))
    if state.last > state.first:
        # While following a growing run the slider only shows where it is; untick 'follow
        # the run' (or step, play, go to) to move away from the newest step.
        solara.SliderInt(state.unit, value=state.step, min=state.first, max=state.last,
                         on_value=move, thumb_label=False,
                         disabled=following.value and state.progress.live)
    if message.value:
        solara.v.Html(tag="div", children=[message.value], style_="color: #b00")


@solara.component
def RunPage(source: RunSource) -> None:
    """The view of one run; `source` may be a run still being written."""
    go = solara.use_reactive(0)
    # use_reactive follows its argument when it changes: a run that ends must not stop the
    # following, so the argument is the status when the page opened, kept
    live_at_start = solara.use_memo(lambda: bool(source.progress().live), dependencies=[])
    following = solara.use_reactive(live_at_start)
    playing = solara.use_reactive(False)
    selected = solara.use_reactive(None)
    tick = solara.use_reactive(0)

    def poll(cancel: threading.Event) -> None:
        seen = (source.progress(), source.computed)
        while not cancel.wait(POLL_S):
            now = (source.progress(), source.computed)
            if now != seen:
                seen = now
                tick.set(tick.value + 1)

    solara.use_thread(poll, dependencies=[], intrusive_cancel=False)
    state = solara.use_memo(
        lambda: step_state(source, go.value, selected.value, last=following.value),
        dependencies=[go.value, following.value, selected.value, tick.value])

    shown = solara.use_ref(state)  # the play thread's view of the step on the page
    shown.current = state

    def play(cancel: threading.Event) -> None:
        while playing.value and not cancel.wait(PLAY_S):
            current = shown.current
            if current.step >= current.last:
                if not current.progress.live:
                    playing.set(False)
                    return
                continue
            following.set(False)
            go.set(current.step + current.stride)

    solara.use_thread(play, dependencies=[playing.value], intrusive_cancel=False)

    run = source.run
    solara.Title(f"Societas view: {source.path.name}")
    with solara.Column(style={"padding": "8px 16px"}):
        solara.v.Html(tag="h3", children=[
            f"{source.path.name} · {run.scenario or 'unknown scenario'} · "
            f"{'running' if state.progress.live else state.progress.status or 'unknown'}"])
        Controls(state, playing, following, go, source)
        with solara.ColumnsResponsive(default=12, large=6):
            for panel in state.panels:
                with (solara.Card(panel.title, margin=0, style={"margin-bottom": "8px"}),
                      solara.v.Html(tag="div", attributes={"data-panel": panel.key})):
                    if panel.error:
                        solara.v.Html(tag="div", children=[f"this panel failed: {panel.error}"],
                                      style_="color: #b00")
                    for i, part in enumerate(panel.parts):
                        Part(part, key=f"{panel.key}-{i}", on_select=selected.set)
