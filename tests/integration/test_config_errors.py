"""Config errors name FILE:LINE and stop the daemon; --check-config, --list-plugins, --help, --version, --print-default-config."""
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

LINE_LIMIT = 198  # docs/configuration.md: "a line may be at most 198 bytes long"


class ConfigErrors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ivd-config-")
        self.sections = ivd.default_sections(self.tmp)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, extra_lines=(), sections=None):
        """Write the base config plus `extra_lines`; returns (path, line numbers of the extras)."""
        text = ivd.render_ini(ivd.merge_sections(self.sections, sections))
        base_lines = text.count("\n")
        path = os.path.join(self.tmp, "test.ini")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
            for line in extra_lines:
                f.write(line + "\n")
        return path, [base_lines + 1 + i for i in range(len(extra_lines))]

    def refused(self, path, *args):
        """Run the daemon (serving) and --check-config with `path`: both must exit 1 without
        listening; returns the daemon's stderr."""
        for action in ([], ["--check-config"]):
            proc = ivd.run_interviewd(["--config", path, *action, *args], cwd=self.tmp)
            self.assertEqual(proc.returncode, 1, f"{action}: {proc.stderr}")
            self.assertNotIn("listening on", proc.stderr)
            self.assertNotIn("configuration OK", proc.stdout)
        return proc.stderr

    def assert_line(self, stderr, path, line, *fragments):
        prefix = f"{path}:{line}: "
        lines = [entry for entry in stderr.splitlines() if entry.startswith(prefix)]
        self.assertTrue(lines, f"no error for {prefix!r} in:\n{stderr}")
        for fragment in fragments:
            self.assertTrue(any(fragment in entry for entry in lines),
                            f"{fragment!r} not in the error for line {line}:\n{stderr}")

    def test_valid_config_is_accepted(self):
        path, _ = self.write()
        proc = ivd.run_interviewd(["--config", path, "--check-config"], cwd=self.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("configuration OK", proc.stdout)

    def test_unknown_key(self):
        path, (_, line) = self.write(["[limits]", "max_sesions = 3"])
        stderr = self.refused(path)
        self.assert_line(stderr, path, line, "unknown key 'max_sesions'", "max_sessions")

    def test_unknown_section(self):
        path, (line, _) = self.write(["[srever]", "port = 1"])
        stderr = self.refused(path)
        self.assert_line(stderr, path, line, "unknown section [srever]")

    def test_bad_values(self):
        path, (_, line1, line2, _, line3) = self.write(
            ["[limits]", "max_sessions = lots", "send_timeout_s = 0", "[log]", "level = loud"],
            {"log": None})
        stderr = self.refused(path)
        # Every error at once, each with its line.
        self.assert_line(stderr, path, line1, "max_sessions", "'lots' is not a whole number")
        self.assert_line(stderr, path, line2, "send_timeout_s", "out of range", "1..3600")
        self.assert_line(stderr, path, line3, "level", "'loud'", "error|warn|info|debug")

    def test_out_of_range_value(self):
        path, (_, line) = self.write(["[limits]", "workers = 300000"])
        stderr = self.refused(path)
        self.assert_line(stderr, path, line, "workers", "300000", "out of range")

    def test_duplicate_key(self):
        path, (_, first, second) = self.write(["[limits]", "workers = 2", "workers = 3"])
        stderr = self.refused(path)
        self.assert_line(stderr, path, second, "workers", f"line {first}")

    def test_line_length_limit(self):
        key = "allowed_origins = "
        # The longest documented line is accepted ...
        ok_value = "http://" + "a" * (LINE_LIMIT - len(key) - len("http://"))
        path, (_, line) = self.write(["[server]", key + ok_value], {"server": None})
        self.assertEqual(len(key + ok_value), LINE_LIMIT)
        proc = ivd.run_interviewd(["--config", path, "--check-config"], cwd=self.tmp)
        self.assertEqual(proc.returncode, 0,
                         f"a {LINE_LIMIT}-byte line must be accepted (docs/configuration.md):\n{proc.stderr}")
        # ... one byte more is refused, with its line number.
        path, (_, line) = self.write(["[server]", key + ok_value + "b"], {"server": None})
        stderr = self.refused(path)
        self.assert_line(stderr, path, line, f"{LINE_LIMIT + 1} bytes")

    def test_missing_plugin_directory(self):
        missing = os.path.join(self.tmp, "no-such-plugins")
        path, _ = self.write(sections={"plugins": {"directory": missing}})
        with open(path, encoding="utf-8") as f:
            line = 1 + next(i for i, text in enumerate(f) if text.startswith("directory = " + missing))
        stderr = self.refused(path)
        self.assert_line(stderr, path, line, missing)

    def test_missing_config_file(self):
        missing = os.path.join(self.tmp, "nope.ini")
        proc = ivd.run_interviewd(["--config", missing], cwd=self.tmp)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(missing, proc.stderr)

    def test_unknown_tts_backend_names_those_that_exist(self):
        path, _ = self.write(sections={"tts": {"backend": "nosuch"}})
        with open(path, encoding="utf-8") as f:
            line = 1 + next(i for i, text in enumerate(f) if text.startswith("backend = nosuch"))
        stderr = self.refused(path)
        self.assert_line(stderr, path, line, "'nosuch'", "available:", "mock")
        self.assertRegex(stderr, r"available: [^\n]*\bmock\b")

    def test_unknown_question_source(self):
        path, _ = self.write(sections={"questions": {"source": "nosuch-source"}})
        stderr = self.refused(path)
        self.assertRegex(stderr, rf"{re.escape(path)}:\d+: .*'nosuch-source'.*available: [^\n]*\bfile\b")

    def test_section_for_a_backend_nobody_provides(self):
        path, (line, _) = self.write(["[tts.nosuch]", "voice = x"])
        stderr = self.refused(path)
        self.assert_line(stderr, path, line, "nosuch")

    def test_bad_backend_option(self):
        path, _ = self.write(sections={"tts.mock": {"pace": "warp", "block_bytes": "1"}})
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        stderr = self.refused(path)
        self.assert_line(stderr, path, lines.index("pace = warp") + 1, "pace", "'warp'")
        self.assert_line(stderr, path, lines.index("block_bytes = 1") + 1, "block_bytes", "out of range")

    def test_question_bank_missing(self):
        missing = os.path.join(self.tmp, "no-bank.txt")
        path, _ = self.write(sections={"questions.file": {"path": missing}})
        stderr = self.refused(path)
        self.assertIn(missing, stderr)


class Actions(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ivd-actions-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_check_default_config(self):
        proc = ivd.run_interviewd(["--check-config"], cwd=self.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout
        self.assertIn("configuration OK", out)
        # Resolved settings: sections, ${prefix} expanded to the build tree, defaults shown.
        for section in ("[server]", "[plugins]", "[tts]", "[records]", "[limits]", "[tts.mock]",
                        "[questions.file]"):
            self.assertIn(section, out)
        self.assertRegex(out, r"(?m)^port = 8000\b")
        self.assertRegex(out, r"(?m)^backend = mock\b")
        self.assertIn(f"directory = {ivd.plugin_dir()}", out)
        self.assertIn(f"path = {ivd.data_path('questions-en.txt')}", out)
        self.assertIn(f"directory = {os.path.join(os.path.realpath(self.tmp), 'interviewd-records')}",
                      out.replace(self.tmp, os.path.realpath(self.tmp)))
        settings = [line for line in out.splitlines() if "=" in line and not line.startswith(";")]
        self.assertFalse([line for line in settings if "${prefix}" in line], "unexpanded ${prefix}")

    def test_list_plugins(self):
        proc = ivd.run_interviewd(["--list-plugins"], cwd=self.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout
        self.assertRegex(out, r"plugin ABI \d+\.\d+")
        self.assertRegex(out, r"(?m)^tts-mock \d+\.\d+\.\d+ \(plugin ABI \d+\.\d+\) .*tts_mock\.so$")
        self.assertRegex(out, r"(?m)^questions-file \d+\.\d+\.\d+ \(plugin ABI \d+\.\d+\) .*questions_file\.so$")
        self.assertRegex(out, r"(?m)^\s+tts\s+mock\s+\S")
        self.assertRegex(out, r"(?m)^\s+questions\s+file\s+\S")

    def test_help_and_version(self):
        proc = ivd.run_interviewd(["--help"])
        self.assertEqual(proc.returncode, 0)
        for option in ("--config", "--check-config", "--list-plugins", "--check-plugin",
                       "--print-default-config", "--version", "--help"):
            self.assertIn(option, proc.stdout)
        proc = ivd.run_interviewd(["--version"])
        self.assertEqual(proc.returncode, 0)
        with open(os.path.join(ivd.SOURCE_DIR, "CMakeLists.txt"), encoding="utf-8") as f:
            version = re.search(r"project\(interviewd VERSION (\S+)", f.read()).group(1)
        with open(os.path.join(ivd.SOURCE_DIR, "include", "interviewd", "plugin.h"), encoding="utf-8") as f:
            header = f.read()
        abi = (re.search(r"#define IVD_ABI_MAJOR (\d+)", header).group(1) + "." +
               re.search(r"#define IVD_ABI_MINOR (\d+)", header).group(1))
        self.assertEqual(proc.stdout.strip(), f"interviewd {version} (plugin ABI {abi})")
        proc = ivd.run_interviewd(["--no-such-option"])
        self.assertEqual(proc.returncode, 2)
        self.assertIn("Usage", proc.stderr)
        proc = ivd.run_interviewd(["stray-argument"])
        self.assertEqual(proc.returncode, 2)
        self.assertIn("stray-argument", proc.stderr)

    def test_print_default_config(self):
        proc = ivd.run_interviewd(["--print-default-config"])
        self.assertEqual(proc.returncode, 0)
        with open(os.path.join(ivd.SOURCE_DIR, "conf", "interviewd.ini"), encoding="utf-8") as f:
            self.assertEqual(proc.stdout, f.read())


if __name__ == "__main__":
    unittest.main()
