//! Terminals into real containers (live mode): the screen a container's
//! pty draws, kept by a terminal emulator (vt100), drawn as text, and the
//! keys typed on it turned into the bytes a terminal sends.

use anchorage_shared::engine::TerminalSize;
use anchorage_shared::process::ExitStatus;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// The sizes offered, in columns and rows.
pub const SIZES: [TerminalSize; 3] = [
    TerminalSize { cols: 80, rows: 24 },
    TerminalSize {
        cols: 100,
        rows: 30,
    },
    TerminalSize {
        cols: 132,
        rows: 43,
    },
];

/// One open (or ended) terminal.
pub struct LiveTerminal {
    pub id: u64,
    /// The container's name, for the title.
    pub container: String,
    pub size: TerminalSize,
    screen: vt100::Parser,
    pub ended: Option<ExitStatus>,
}

impl LiveTerminal {
    pub fn new(id: u64, container: String, size: TerminalSize) -> LiveTerminal {
        LiveTerminal {
            id,
            container,
            size,
            screen: vt100::Parser::new(size.rows, size.cols, 0),
            ended: None,
        }
    }

    pub fn write(&mut self, data: &[u8]) {
        self.screen.process(data);
    }

    pub fn resize(&mut self, size: TerminalSize) {
        self.size = size;
        self.screen.screen_mut().set_size(size.rows, size.cols);
    }

    /// The screen as rows of styled runs, and the cursor.
    pub fn frame(&self) -> Frame {
        let screen = self.screen.screen();
        let (rows, cols) = screen.size();
        let lines = (0..rows)
            .map(|row| {
                let mut runs: Vec<Run> = Vec::new();
                for col in 0..cols {
                    let Some(cell) = screen.cell(row, col) else {
                        continue;
                    };
                    if cell.is_wide_continuation() {
                        continue;
                    }
                    let style = Style {
                        fg: color_index(cell.fgcolor()),
                        bg: color_index(cell.bgcolor()),
                        bold: cell.bold(),
                        inverse: cell.inverse(),
                        underline: cell.underline(),
                    };
                    let text = if cell.has_contents() {
                        cell.contents()
                    } else {
                        " "
                    };
                    match runs.last_mut() {
                        Some(run) if run.style == style => run.text.push_str(text),
                        _ => runs.push(Run {
                            style,
                            text: text.to_string(),
                        }),
                    }
                }
                // Trailing blanks in the default style are not drawn.
                if let Some(run) = runs.last_mut()
                    && run.style == Style::default()
                {
                    run.text.truncate(run.text.trim_end_matches(' ').len());
                }
                runs
            })
            .collect();
        Frame {
            lines,
            cursor: (!screen.hide_cursor() && self.ended.is_none())
                .then(|| screen.cursor_position()),
        }
    }
}

/// A colour of the 16-colour palette (the 256 fold onto it), if not default.
fn color_index(color: vt100::Color) -> Option<u8> {
    match color {
        vt100::Color::Default => None,
        vt100::Color::Idx(n) if n < 16 => Some(n),
        vt100::Color::Idx(n) => Some(n % 8),
        vt100::Color::Rgb(r, g, b) => {
            let bit = |v: u8| u8::from(v > 127);
            Some(bit(r) | bit(g) << 1 | bit(b) << 2)
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    fg: Option<u8>,
    bg: Option<u8>,
    bold: bool,
    inverse: bool,
    underline: bool,
}

impl Style {
    fn classes(&self) -> Classes {
        let mut classes = Classes::new();
        if let Some(fg) = self.fg {
            classes.push(format!("fg{fg}"));
        }
        if let Some(bg) = self.bg {
            classes.push(format!("bg{bg}"));
        }
        if self.bold {
            classes.push("b");
        }
        if self.inverse {
            classes.push("inv");
        }
        if self.underline {
            classes.push("u");
        }
        classes
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    style: Style,
    text: String,
}

/// What a terminal shows at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    lines: Vec<Vec<Run>>,
    /// Row and column, when the cursor shows.
    cursor: Option<(u16, u16)>,
}

/// The bytes a terminal sends for a key, or `None` for keys it does not
/// send (Shift alone, F-keys we do not map, browser shortcuts).
pub fn key_bytes(event: &KeyboardEvent) -> Option<String> {
    let key = event.key();
    // Cmd, and Ctrl-Shift (copy and paste on terminals), stay the
    // browser's; so does Ctrl-V, so that pasting works.
    if event.meta_key() || (event.ctrl_key() && event.shift_key()) {
        return None;
    }
    if event.ctrl_key() && event.key().eq_ignore_ascii_case("v") {
        return None;
    }
    let named = match key.as_str() {
        "Enter" => Some("\r"),
        "Backspace" => Some("\x7f"),
        "Tab" => Some("\t"),
        "Escape" => Some("\x1b"),
        "ArrowUp" => Some("\x1b[A"),
        "ArrowDown" => Some("\x1b[B"),
        "ArrowRight" => Some("\x1b[C"),
        "ArrowLeft" => Some("\x1b[D"),
        "Home" => Some("\x1b[H"),
        "End" => Some("\x1b[F"),
        "Delete" => Some("\x1b[3~"),
        "PageUp" => Some("\x1b[5~"),
        "PageDown" => Some("\x1b[6~"),
        _ => None,
    };
    if let Some(bytes) = named {
        return Some(bytes.to_string());
    }
    let mut chars = key.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    if event.ctrl_key() {
        // Ctrl-A..Ctrl-Z and Ctrl-[ \ ] ^ _: the control codes.
        let upper = c.to_ascii_uppercase();
        return match upper {
            '@'..='_' => Some(char::from(upper as u8 & 0x1f).to_string()),
            ' ' => Some("\0".into()),
            _ => None,
        };
    }
    if event.alt_key() {
        return Some(format!("\x1b{c}"));
    }
    Some(c.to_string())
}

#[derive(Properties, PartialEq)]
pub struct PtyProps {
    pub id: u64,
    pub title: String,
    pub frame: Frame,
    pub size: TerminalSize,
    pub ended: Option<ExitStatus>,
    pub on_keys: Callback<(u64, String)>,
    pub on_resize: Callback<(u64, TerminalSize)>,
    pub on_close: Callback<u64>,
}

/// A terminal on the page: click it (or tab to it) and type.
#[function_component]
pub fn PtyView(props: &PtyProps) -> Html {
    let id = props.id;
    let onkeydown = {
        let on_keys = props.on_keys.clone();
        Callback::from(move |event: KeyboardEvent| {
            if let Some(bytes) = key_bytes(&event) {
                event.prevent_default();
                on_keys.emit((id, bytes));
            }
        })
    };
    let onpaste = {
        let on_keys = props.on_keys.clone();
        Callback::from(move |event: Event| {
            let text = event
                .dyn_ref::<web_sys::ClipboardEvent>()
                .and_then(|e| e.clipboard_data())
                .and_then(|data| data.get_data("text").ok());
            if let Some(text) = text {
                event.prevent_default();
                on_keys.emit((id, text.replace("\r\n", "\r").replace('\n', "\r")));
            }
        })
    };
    let onchange = {
        let on_resize = props.on_resize.clone();
        Callback::from(move |event: Event| {
            let index = event
                .target_dyn_into::<web_sys::HtmlSelectElement>()
                .map(|select| select.selected_index())
                .unwrap_or(0);
            if let Some(size) = usize::try_from(index).ok().and_then(|i| SIZES.get(i)) {
                on_resize.emit((id, *size));
            }
        })
    };
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_| on_close.emit(id))
    };
    let cursor = props.frame.cursor;
    let lines = props.frame.lines.iter().enumerate().map(|(row, runs)| {
        let mut cells: Vec<Html> = Vec::new();
        let mut col = 0u16;
        for run in runs {
            let width = run.text.chars().count() as u16;
            match cursor {
                Some((r, c)) if r as usize == row && c >= col && c < col + width => {
                    let at = (c - col) as usize;
                    let before: String = run.text.chars().take(at).collect();
                    let under: String = run.text.chars().nth(at).into_iter().collect();
                    let after: String = run.text.chars().skip(at + 1).collect();
                    cells.push(html! { <span class={run.style.classes()}>{ before }</span> });
                    cells.push(html! { <span class={classes!(run.style.classes(), "cursor")}>{ under }</span> });
                    cells.push(html! { <span class={run.style.classes()}>{ after }</span> });
                }
                _ => cells.push(html! { <span class={run.style.classes()}>{ run.text.clone() }</span> }),
            }
            col += width;
        }
        if let Some((r, c)) = cursor
            && r as usize == row
            && c >= col
        {
            let gap = " ".repeat((c - col) as usize);
            cells.push(html! { { gap } });
            cells.push(html! { <span class="cursor">{ " " }</span> });
        }
        html! { <div class="row">{ for cells }</div> }
    });
    let selected = SIZES.iter().position(|s| *s == props.size).unwrap_or(0);
    html! {
        <section class="pty" data-terminal={id.to_string()} aria-label={props.title.clone()}>
            <header>
                <h2>{ &props.title }</h2>
                <select aria-label="Terminal size" onchange={onchange} disabled={props.ended.is_some()}>
                    { for SIZES.iter().enumerate().map(|(i, s)| html! {
                        <option selected={i == selected}>{ format!("{}×{}", s.cols, s.rows) }</option>
                    }) }
                </select>
                <button class="close" onclick={close}>{ if props.ended.is_some() { "Dismiss" } else { "Hang up" } }</button>
            </header>
            <div class="screen" tabindex="0" role="textbox" aria-multiline="true"
                 style={format!("--cols: {}", props.size.cols)}
                 onkeydown={onkeydown} onpaste={onpaste}>
                { for lines }
            </div>
            if let Some(status) = props.ended {
                <p class="ended">{ format!("The terminal closed: {status}.") }</p>
            } else {
                <p class="quiet">{ "Click the screen and type: keys go to the container's terminal; Ctrl-C interrupts its command." }</p>
            }
        </section>
    }
}
