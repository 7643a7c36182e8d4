"""The plugin loader refuses broken and unsafe plugins with a message naming the file, the versions and the fix."""
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ivd_daemon as ivd  # noqa: E402

TEST_PLUGINS = os.environ.get("IVD_TEST_PLUGIN_DIR", "")


def host_abi():
    """(major, minor) of this interviewd, from --version."""
    proc = ivd.run_interviewd(["--version"])
    major, minor = re.search(r"plugin ABI (\d+)\.(\d+)", proc.stdout).groups()
    return int(major), int(minor)


class PluginLoader(unittest.TestCase):
    def setUp(self):
        self.assertTrue(TEST_PLUGINS and os.path.isdir(TEST_PLUGINS),
                        "IVD_TEST_PLUGIN_DIR must name the built test plugins")
        self.tmp = tempfile.mkdtemp(prefix="ivd-plugins-")
        os.chmod(self.tmp, 0o755)
        self.major, self.minor = host_abi()

    def tearDown(self):
        for root, dirs, files in os.walk(self.tmp):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o755)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def plugin_dir(self, *plugins, name="plugins", dir_mode=0o755, file_mode=0o644):
        """A fresh plugin directory holding copies of `plugins` (test plugin names, or paths),
        with safe modes unless told otherwise.  Returns (directory, {name: copied path})."""
        directory = os.path.join(self.tmp, name)
        os.mkdir(directory)
        copies = {}
        for plugin in plugins:
            source = plugin if os.path.isabs(plugin) else os.path.join(TEST_PLUGINS, plugin + ".so")
            target = os.path.join(directory, os.path.basename(source))
            shutil.copyfile(source, target)
            os.chmod(target, file_mode)
            copies[os.path.splitext(os.path.basename(source))[0]] = target
        os.chmod(directory, dir_mode)
        return directory, copies

    def check_plugin(self, path):
        return ivd.run_interviewd(["--check-plugin", path])

    def config(self, directory, tts_backend="mock", extra=None):
        sections = {"plugins": {"directory": directory}, "tts": {"backend": tts_backend},
                    "tts.mock": None}
        sections.update(extra or {})
        merged = ivd.merge_sections(ivd.default_sections(self.tmp), sections)
        path = os.path.join(self.tmp, "test.ini")
        with open(path, "w", encoding="utf-8") as f:
            f.write(ivd.render_ini(merged))
        return path

    def assert_refused(self, proc, *fragments):
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        for fragment in fragments:
            self.assertIn(fragment, proc.stderr)

    # ---- one file at a time: --check-plugin ----------------------------------------------

    def test_good_test_plugin_loads(self):
        """The control: a correct plugin built the same way as the broken ones loads."""
        _, copies = self.plugin_dir("good")
        proc = self.check_plugin(copies["good"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^test-good 2\.3\.4 \(plugin ABI \d+\.\d+\) ")
        self.assertIn("OK: the plugin matches this interviewd", proc.stdout)

    def test_wrong_abi_major(self):
        directory, copies = self.plugin_dir("abi_major", ivd.build_path("lib", "interviewd", "plugins",
                                                                         "questions_file.so"))
        path = copies["abi_major"]
        expected = (f"plugin '{path}' was built for plugin ABI {self.major + 1}.0, "
                    f"this interviewd has ABI {self.major}.{self.minor}")
        proc = self.check_plugin(path)
        self.assert_refused(proc, expected, "rebuild the plugin")
        # The daemon, configured to use the plugin's backend, does not start and says why.
        config = self.config(directory, tts_backend="broken-major")
        for args in (["--config", config], ["--config", config, "--check-config"]):
            proc = ivd.run_interviewd(args, cwd=self.tmp)
            self.assert_refused(proc, expected, "rebuild the plugin",
                                "no TTS backend named 'broken-major'", "some plugins were refused")
            self.assertNotIn("listening on", proc.stderr)
        # --list-plugins lists what loads, reports the refusal, and exits 1.
        proc = ivd.run_interviewd(["--config", config, "--list-plugins"], cwd=self.tmp)
        self.assert_refused(proc, expected)
        self.assertRegex(proc.stdout, r"(?m)^questions-file ")
        self.assertNotIn("broken-major", proc.stdout)

    def test_newer_abi_minor(self):
        _, copies = self.plugin_dir("abi_minor")
        path = copies["abi_minor"]
        proc = self.check_plugin(path)
        self.assert_refused(proc, f"plugin '{path}' needs plugin ABI {self.major}.{self.minor + 1}, "
                                  f"this interviewd has only ABI {self.major}.{self.minor}",
                            "upgrade interviewd", "rebuild the plugin")

    def test_missing_entry_symbol(self):
        _, copies = self.plugin_dir("no_entry")
        path = copies["no_entry"]
        proc = self.check_plugin(path)
        self.assert_refused(proc, f"plugin '{path}' does not export 'ivd_plugin_entry'",
                            "IVD_PLUGIN_DECLARE")

    def test_descriptor_too_small(self):
        _, copies = self.plugin_dir("small_descriptor")
        path = copies["small_descriptor"]
        proc = self.check_plugin(path)
        self.assert_refused(proc, f"plugin '{path}'", "descriptor of 12 bytes", "rebuild the plugin")

    def test_init_fails(self):
        _, copies = self.plugin_dir("init_fails")
        path = copies["init_fails"]
        proc = self.check_plugin(path)
        self.assert_refused(proc, f"plugin '{path}' (broken-init) failed to initialize",
                            "the test plugin refuses to start", "init-failure-detail")

    def test_not_a_plugin(self):
        directory, _ = self.plugin_dir()
        path = os.path.join(directory, "text.so")
        with open(path, "w") as f:
            f.write("not an ELF file\n")
        os.chmod(path, 0o644)
        proc = self.check_plugin(path)
        self.assert_refused(proc, f"plugin '{path}': cannot load")

    # ---- directories ---------------------------------------------------------------------

    def test_two_plugins_with_the_same_backend(self):
        directory, copies = self.plugin_dir("duplicate_a", "duplicate_b")
        config = self.config(directory)
        proc = ivd.run_interviewd(["--config", config, "--list-plugins"], cwd=self.tmp)
        self.assert_refused(proc, f"plugin '{copies['duplicate_b']}': tts backend 'duplicate' is "
                                  f"already provided by '{copies['duplicate_a']}'",
                            "remove one of the two")
        self.assertRegex(proc.stdout, r"(?m)^duplicate-a ")
        self.assertNotRegex(proc.stdout, r"(?m)^duplicate-b ")

    def test_same_plugin_twice(self):
        directory, copies = self.plugin_dir("good")
        os.chmod(directory, 0o755)
        second = os.path.join(directory, "good_copy.so")
        shutil.copyfile(copies["good"], second)
        os.chmod(second, 0o644)
        proc = ivd.run_interviewd(["--config", self.config(directory), "--list-plugins"], cwd=self.tmp)
        self.assert_refused(proc, f"plugin '{second}': a plugin named 'test-good' is already loaded "
                                  f"from '{copies['good']}'")

    def test_unsafe_modes_are_refused(self):
        mock = ivd.build_path("lib", "interviewd", "plugins", "tts_mock.so")
        # A plugin file writable by others, or by its group.
        for mode, who in ((0o646, "others"), (0o664, "its group")):
            directory, copies = self.plugin_dir(mock, name=f"file-{mode:o}", file_mode=mode)
            path = copies["tts_mock"]
            proc = self.check_plugin(path)
            self.assert_refused(proc, f"plugin file '{path}' is writable by {who}", "chmod go-w")
            proc = ivd.run_interviewd(["--config", self.config(directory)], cwd=self.tmp)
            self.assert_refused(proc, f"plugin file '{path}' is writable by {who}")
        # A plugin directory writable by its group or others: nothing in it is loaded.
        for mode, who in ((0o775, "its group"), (0o757, "others")):
            directory, _ = self.plugin_dir(mock, name=f"dir-{mode:o}", dir_mode=mode)
            config = self.config(directory)
            for args in (["--config", config], ["--config", config, "--list-plugins"]):
                proc = ivd.run_interviewd(args, cwd=self.tmp)
                self.assert_refused(proc, f"plugin directory '{directory}' is writable by {who}",
                                    "chmod go-w")
                self.assertNotIn("tts-mock", proc.stdout)
        # A symbolic link is not followed.
        directory, copies = self.plugin_dir(name="links")
        os.chmod(directory, 0o755)
        link = os.path.join(directory, "tts_mock.so")
        os.symlink(mock, link)
        proc = self.check_plugin(link)
        self.assert_refused(proc, f"plugin '{link}': cannot open")

    def test_good_plugin_copied_alone_loads(self):
        mock = ivd.build_path("lib", "interviewd", "plugins", "tts_mock.so")
        directory, copies = self.plugin_dir(mock)
        proc = self.check_plugin(copies["tts_mock"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^tts-mock \d+\.\d+\.\d+ \(plugin ABI \d+\.\d+\) ")
        self.assertRegex(proc.stdout, r"(?m)^\s+tts\s+mock\s")
        proc = ivd.run_interviewd(["--config", self.config(directory), "--list-plugins"], cwd=self.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertRegex(proc.stdout, r"(?m)^tts-mock ")
        self.assertEqual(proc.stderr, "")

    def test_broken_plugin_next_to_good_ones(self):
        """A refused plugin does not take the good ones down: the daemon serves with them, and
        the refusal is in its log."""
        real = ivd.build_path("lib", "interviewd", "plugins")
        directory, copies = self.plugin_dir("abi_major", os.path.join(real, "tts_mock.so"),
                                            os.path.join(real, "questions_file.so"))
        daemon = ivd.Daemon({"plugins": {"directory": directory}}, tmp_dir=os.path.join(self.tmp, "d"))
        os.mkdir(daemon.tmp_dir)
        with daemon:
            self.assertIn(f"plugin '{copies['abi_major']}' was built for plugin ABI {self.major + 1}.0",
                          daemon.log())
            daemon.stop_clean()


if __name__ == "__main__":
    unittest.main()
