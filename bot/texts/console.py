"""What admins read about the web console, in English and Ukrainian: /console, its menu button."""

CONSOLE_TEXTS: dict[str, dict[str, str]] = {
    "cmd_console": {"en": "Open the web console", "uk": "Відкрити вебконсоль"},
    "console_link": {
        "en": "Your sign-in link to the console (it works once, within {minutes} minutes, for "
        "you only; do not forward it):\n{link}",
        "uk": "Ваше посилання для входу до консолі (діє один раз, протягом {minutes} хвилин, "
        "лише для вас; не пересилайте його):\n{link}",
    },
    "console_open_app": {"en": "Open the console here", "uk": "Відкрити консоль тут"},
    "console_menu_button": {"en": "Console", "uk": "Консоль"},
    "console_admins_only": {
        "en": "The web console is for administrators only.",
        "uk": "Вебконсоль лише для адміністраторів.",
    },
}
