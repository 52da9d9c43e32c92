"""Every key binding in one place; ids let users remap keys."""

from textual.binding import Binding

APP = [
    Binding("q", "quit", "Quit", id="app.quit"),
    Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
]

OVERVIEW = [
    Binding("r", "refresh", "Refresh", id="overview.refresh"),
    Binding("p", "pause", "Pause/resume", id="overview.pause"),
    Binding("plus", "interval(0.5)", "Slower", key_display="+", show=False, id="overview.slower"),
    Binding("minus", "interval(-0.5)", "Faster", key_display="-", show=False, id="overview.faster"),
    Binding("enter", "open_table", "Open table", id="overview.open_table"),
    Binding("s", "sort", "Sort", id="overview.sort"),
    Binding("1", "tab('tables')", "Tables", show=False, id="overview.tab_tables"),
    Binding("2", "tab('warnings')", "Warnings", show=False, id="overview.tab_warnings"),
    Binding("3", "tab('readers')", "Readers", show=False, id="overview.tab_readers"),
    Binding("4", "tab('live')", "Live", show=False, id="overview.tab_live"),
    Binding("5", "tab('environment')", "Environment", show=False, id="overview.tab_env"),
]

TABLE = [
    Binding("escape", "back", "Back", id="table.back"),
    Binding("home,g", "first", "First", show=False, id="table.first"),
    Binding("end,G", "last", "Last", show=False, id="table.last"),
    Binding("pagedown,n", "next_page", "Next", id="table.next"),
    Binding("pageup,b", "prev_page", "Prev", id="table.prev"),
    Binding("j", "jump", "Jump to key", id="table.jump"),
    Binding("slash", "filter", "Filter", key_display="/", id="table.filter"),
    Binding("c", "copy", "Copy JSON", show=False, id="table.copy"),
    Binding("w", "save", "Save JSON", show=False, id="table.save"),
    Binding("i", "follow", "Follow index", id="table.follow"),
    Binding("m", "more", "Show more", show=False, id="table.more"),
    Binding("x", "toggle_hex", "JSON/hex", id="table.hex"),
    Binding("v", "columns", "Columns", show=False, id="table.columns"),
    Binding("o", "reverse", "Newest first", show=False, id="table.reverse"),
    Binding("r", "reload", "Reload", show=False, id="table.reload"),
    Binding("z", "maximize_pane", "Maximize", show=False, id="table.maximize"),
]

HELP_TEXT = """\
[b]Everywhere[/b]
  q            quit
  ?            this help (escape closes it)
  ctrl+p       command palette

[b]Overview[/b]
  1 .. 5       tabs: tables, warnings, readers, live, environment
  enter        open the selected table (Tables tab)
  r            refresh now
  p            pause / resume the live refresh
  + / -        slower / faster refresh
  home, end    first / last table
  s            sort by the next column (or click a header)

[b]Table records[/b]
  up / down    move; past either end the window slides on by key
  n, pgdn      next page              b, pgup      previous page
  g, home      first page             G, end       last page
  j            jump to a key or key prefix, a record (#1000) or 50%
  /            filter on the decoded text
  o            newest first           v            choose columns
  x            JSON / hex detail      m            more of the JSON
  c            copy JSON (OSC 52)     w            save to a file
  r            read the page and the record count again
  i            index record: open the record it points to
  tab          list / detail          z            maximize pane
  escape       back to the overview

Keys can be remapped by binding id in the --config file's \\[keymap] table.
"""
