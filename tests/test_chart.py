"""The digest's progress chart: a real PNG, deterministic, and Chinese drawn as glyphs, not tofu."""

from __future__ import annotations

import io
import logging
import random
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from PIL import Image

from bot.i18n import LANGUAGES, Language
from bot.plan import Plan
from bot.render import chart
from bot.render.text import CAPTION_LIMIT, units
from bot.statuses import Stage
from storage.updates import Status, TaskState
from tests.conftest import moment_at

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WHEN = datetime(2024, 9, 2, tzinfo=UTC)
AT = moment_at(WHEN)


def spread(plan: Plan, seed: int = 2024) -> dict[int, TaskState]:
    """A plausible mid-year picture: most tasks under way or not begun, some done, a few stuck."""
    rng = random.Random(seed)
    states: dict[int, TaskState] = {}
    for task in plan.tasks:
        status = rng.choices(list(Status), weights=[35, 40, 18, 7])[0]
        states[task.number] = TaskState(task.number, status, None, task.number, WHEN, WHEN)
    return states


def with_status(states: dict[int, TaskState], number: int, status: Status) -> dict[int, TaskState]:
    return {**states, number: TaskState(number, status, None, 999, WHEN, WHEN)}


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.fixture(scope="module")
def states(plan: Plan) -> dict[int, TaskState]:
    return spread(plan)


@pytest.fixture(scope="module")
def png(plan: Plan, states: dict[int, TaskState]) -> bytes:
    return chart.progress_chart(plan, states, "zh", AT)


@pytest.fixture
def cjk() -> str:
    font = chart.chart_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk) — tofu checks skipped")
    return font.path


@pytest.fixture
def no_cjk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As on a machine without CJK fonts: the search finds nothing, and the cache forgets."""
    monkeypatch.setattr(chart, "_search", lambda: None)
    chart._lookup.cache_clear()
    yield
    chart._lookup.cache_clear()


# --- the image -------------------------------------------------------------------------------


def test_a_valid_png_of_phone_size(png: bytes) -> None:
    assert png.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.verify()
    width, height = Image.open(io.BytesIO(png)).size
    assert 1000 <= width <= 1400
    assert 1200 <= height <= 2560  # 39 bars; Telegram keeps up to 2560 px on the long side
    assert len(png) < 300_000


def test_matplotlib_reads_it_back(png: bytes) -> None:
    from matplotlib.image import imread

    array = imread(io.BytesIO(png), format="png")
    assert array.shape[1] == 1200
    assert array.std() > 0.05  # not a blank page


def test_equal_input_equal_bytes(plan: Plan, states: dict[int, TaskState], png: bytes) -> None:
    assert chart.progress_chart(plan, dict(states), "zh", AT) == png


def test_a_status_change_changes_the_image(
    plan: Plan, states: dict[int, TaskState], png: bytes
) -> None:
    number = next(n for n, s in states.items() if s.status is not Status.DONE)
    changed = chart.progress_chart(plan, with_status(states, number, Status.DONE), "zh", AT)
    assert changed != png


def test_languages_differ(plan: Plan, states: dict[int, TaskState], png: bytes) -> None:
    assert chart.progress_chart(plan, states, "en", AT) != png


def test_threads_render_the_same_bytes(
    plan: Plan, states: dict[int, TaskState], png: bytes
) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: chart.progress_chart(plan, states, "zh", AT), range(3)))
    assert results == [png] * 3


def test_no_states_is_all_not_started(plan: Plan) -> None:
    bars = chart.section_bars(plan, {}, chart.Style("zh", chart.chart_font()))
    assert sum(bar.counts[Stage.NOT_STARTED] for bar in bars) == len(plan.tasks)
    assert chart.progress_chart(plan, {}, "zh", AT).startswith(PNG_SIGNATURE)


# --- what the bars say -----------------------------------------------------------------------


def test_sections_in_plan_order_counting_every_task(
    plan: Plan, states: dict[int, TaskState]
) -> None:
    style = chart.Style("zh", chart.ChartFont("font.ttc", "Some CJK"))
    bars = chart.section_bars(plan, states, style)
    assert [bar.label[0] for bar in bars] == [s.numeral for s in plan.sections]
    assert bars[0].label == "一、完善知识产权制度"
    assert all(len(bar.label) <= chart.SECTION_LABEL_CHARS for bar in bars)
    assert sum(bar.total for bar in bars) == len(plan.tasks)
    done = sum(1 for s in states.values() if s.status is Status.DONE)
    assert sum(bar.counts[Stage.CLOSED] for bar in bars) == done


def test_departments_by_tasks_led(plan: Plan, states: dict[int, TaskState]) -> None:
    font = chart.chart_font()
    bars = chart.department_bars(plan, states, chart.Style("zh", font))
    leads = {task.lead for task in plan.tasks}
    assert len(bars) == len(leads)
    totals = [bar.total for bar in bars]
    assert totals == sorted(totals, reverse=True)
    assert sum(totals) == len(plan.tasks)
    if font is not None:
        assert bars[0].label in {plan.department(code).name for code in leads}
        assert {bar.label for bar in bars} == {plan.department(code).name for code in leads}


def test_english_names_fit(plan: Plan, states: dict[int, TaskState]) -> None:
    bars = chart.department_bars(plan, states, chart.Style("en", chart.chart_font()))
    assert all(len(bar.label) <= chart.EN_DEPT_CHARS for bar in bars)
    assert "China National IP Administration" in {bar.label for bar in bars}
    assert all(ord(ch) < 0x2E80 for bar in bars for ch in bar.label)  # no CJK


# --- Chinese glyphs, not tofu ----------------------------------------------------------------


def chinese_texts(plan: Plan, font: chart.ChartFont) -> list[str]:
    """Every text the zh chart draws with the CJK font."""
    style = chart.Style("zh", font)
    bars = chart.section_bars(plan, {}, style) + chart.department_bars(plan, {}, style)
    words = list(chart.WORDS["zh"].values()) + [style.stage(s) for s in Stage]
    return [bar.label for bar in bars] + words + [plan.title]


def ink(text: str, font: FontProperties) -> np.ndarray:
    """``text`` drawn alone in black on white: 1 where there is ink, 0 where there is none."""
    fig = Figure(figsize=(4, 0.6), dpi=100)
    canvas = FigureCanvasAgg(fig)
    fig.text(0.02, 0.5, text, va="center", fontproperties=font)
    canvas.draw()
    grey = np.asarray(canvas.buffer_rgba())[..., :3].mean(axis=2)
    return (grey < 128).astype(np.uint8)


def test_the_font_is_found_on_this_machine(cjk: str) -> None:
    font = chart.chart_font()
    assert font is not None and font.path == cjk
    assert chart._covers(cjk, "国家知识产权局")


def test_the_font_has_a_glyph_for_every_label_character(plan: Plan, cjk: str) -> None:
    font = chart.chart_font()
    assert font is not None
    face = FT2Font(cjk)
    missing = {
        ch
        for text in chinese_texts(plan, font)
        for ch in text
        if not ch.isspace() and face.get_char_index(ord(ch)) == 0
    }
    assert not missing


def test_cjk_ink_differs_from_tofu(plan: Plan, cjk: str) -> None:
    cjk_props = FontProperties(fname=cjk, size=14)
    dejavu = FontProperties(fname=findfont(FontProperties(family="DejaVu Sans")), size=14)
    label = plan.department("cnipa").name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DejaVu warns of its missing glyphs: that is the point
        tofu = ink(label, dejavu)
        tofu_one, tofu_other = ink("国", dejavu), ink("家", dejavu)
    drawn = ink(label, cjk_props)
    assert drawn.sum() > 200  # real strokes, not an empty box
    assert not np.array_equal(drawn, tofu)
    assert np.array_equal(tofu_one, tofu_other)  # DejaVu draws every hanzi as the same box...
    assert not np.array_equal(ink("国", cjk_props), ink("家", cjk_props))  # ...the CJK font doesn't


def test_the_chart_draws_without_missing_glyphs(
    plan: Plan, states: dict[int, TaskState], cjk: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)"
        for lang in LANGUAGES:
            chart.progress_chart(plan, states, lang, AT, title="知识产权强国建设 · 周报")


# --- without a CJK font ----------------------------------------------------------------------


def test_a_bare_machine_has_no_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only matplotlib's own fonts, as on CI without fonts-noto-cjk: the real search finds none.

    matplotlib 3.10+ bundles a Last Resort font whose every hanzi is the same box: not Chinese.
    """
    bundled = str(Path(matplotlib.get_data_path()))
    own = [e for e in font_manager.fontManager.ttflist if e.fname.startswith(bundled)]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", own)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: [])
    assert chart._search() is None


@pytest.mark.usefixtures("no_cjk")
def test_without_cjk_font_codes_and_one_warning(
    plan: Plan, states: dict[int, TaskState], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.render.chart")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = chart.progress_chart(plan, states, "zh", AT, title="知识产权周报")
        second = chart.progress_chart(plan, states, "zh", AT)
    assert chart.chart_font() is None
    assert first.startswith(PNG_SIGNATURE) and first == second  # the Chinese title was dropped
    records = [r for r in caplog.records if r.name == "bot.render.chart"]
    assert len(records) == 1
    assert "fonts-noto-cjk" in records[0].getMessage()
    style = chart.Style("zh", chart.chart_font())
    assert chart.section_bars(plan, states, style)[0].label == "Section 1"
    codes = [b.label for b in chart.department_bars(plan, states, style)]
    assert set(codes) == {task.lead for task in plan.tasks}
    assert style.word("by_section") == "By section"
    assert style.stage(Stage.CLOSED) == "done"


@pytest.mark.usefixtures("no_cjk")
def test_without_cjk_font_english_names_stay(plan: Plan, states: dict[int, TaskState]) -> None:
    style = chart.Style("en", chart.chart_font())
    labels = [b.label for b in chart.department_bars(plan, states, style)]
    assert "China National IP Administration" in labels


# --- caption ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_caption_fits_telegram(plan: Plan, states: dict[int, TaskState], lang: Language) -> None:
    text = chart.caption(plan, states, lang)
    assert units(text) <= CAPTION_LIMIT
    assert text.startswith(plan.title)
    done = sum(1 for s in states.values() if s.status is Status.DONE)
    label = "已完成" if lang == "zh" else "done"
    assert f"{label} {done}" in text
    assert "<" not in text and "&" not in text  # plain text, no markup


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_legend_stays_inside_the_image(plan: Plan, states: dict[int, TaskState], lang) -> None:
    """Five stages share the legend's line: the last one is not cut at the right edge."""
    image = pixels(chart.progress_chart(plan, states, lang, AT))
    legend = image[int(chart.LEGEND_IN * chart.DPI) : int(chart.HEADER_IN * chart.DPI)]
    margin = legend[:, -int(chart.MARGIN_IN * chart.DPI * 0.8) :]
    assert (margin == 255).all(), "something drawn in the right margin of the legend"
