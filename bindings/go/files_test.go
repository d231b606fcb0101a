package assetcache

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Issue 10, items 2, 3, 5 and 7, through the Go binding. Each was seen to
// fail before its fix (reverted in a scratch copy): a chmod 600 file was
// 0644 after AddList and new files 0644 in 0755 folders
// (io::take_over_permissions, io::create_folder); the Python file with a
// lone-surrogate id was moved aside whole (format::FileKey); an expired
// cache could not be opened by a user who may not write its folder
// (FileBackend::sync).

func fileMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode() & (os.ModePerm | os.ModeSetgid)
}

func TestFilesArePrivateAndARewriteKeepsTheMode(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "new", "sub")
	old := syscall.Umask(0)
	c := open(t, dir, "models")
	err := c.Add(model{ID: "m1"})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		filepath.Join(root, "new"): 0o700, dir: 0o700,
		filepath.Join(dir, "models.json"): 0o600, filepath.Join(dir, "models.lock"): 0o600,
	} {
		if got := fileMode(t, p); got != want {
			t.Errorf("%s: mode %o, want %o", p, got, want)
		}
	}
	file := filepath.Join(dir, "models.json")
	for _, kept := range []os.FileMode{0o600, 0o640, 0o644} {
		if err := os.Chmod(file, kept); err != nil {
			t.Fatal(err)
		}
		if err := c.AddList([]model{{ID: "a"}, {ID: "b"}}); err != nil {
			t.Fatal(err)
		}
		if got := fileMode(t, file); got != kept {
			t.Errorf("AddList made mode %o into %o", kept, got)
		}
	}
}

func TestAnIDWithoutUTF8FormIsKeptAndTheRestLoads(t *testing.T) {
	dir := t.TempDir()
	python := "{\n    \"expiry\": 9999999999.5,\n    \"data\": {\n        \"m1\": {\"id\": \"m1\"},\n" +
		"        \"scan-\\udcff.bin\": {\"id\": \"scan-\\udcff.bin\"}\n    }\n}"
	file := filepath.Join(dir, "models.json")
	if err := os.WriteFile(file, []byte(python), 0o644); err != nil {
		t.Fatal(err)
	}
	c := open(t, dir, "models")
	mustLen(t, c, 1)
	if _, err := c.Get("m1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(model{ID: "m2"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	// Kept, id escape and all; compact, as every asset read from a file is
	// held (issue 11).
	if !strings.Contains(string(b), `"scan-\udcff.bin":{"id":"scan-\udcff.bin"}`) {
		t.Fatalf("the record is gone:\n%s", b)
	}
	if _, err := os.Stat(file + ".corrupt"); err == nil {
		t.Fatal("moved aside")
	}
}

func TestAByteOrderMarkSetsTheFileAside(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "models.json")
	if err := os.WriteFile(file, []byte("\xef\xbb\xbf{\"expiry\": 9e9, \"data\": {}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := open(t, dir, "models")
	mustLen(t, c, 0)
	if _, err := os.Stat(file + ".corrupt"); err != nil {
		t.Fatal("not set aside:", err)
	}
}

// TestHelperExpiredReader runs as a user who may not write the folder.
func TestHelperExpiredReader(t *testing.T) {
	dir := os.Getenv("ASSET_CACHE_GO_READER")
	if dir == "" {
		return
	}
	c, err := Open("models", WithDir(dir))
	if err != nil {
		os.Stderr.WriteString("open: " + err.Error() + "\n")
		os.Exit(3)
	}
	if _, err := c.Get("m1"); !errors.Is(err, ErrNotFound) {
		os.Exit(4)
	}
	if err := c.Add(model{ID: "m2"}); !errors.Is(err, ErrIO) {
		os.Exit(5)
	}
	os.Exit(0)
}

func TestAnExpiredCacheOpensForAReaderThatCannotWrite(t *testing.T) {
	top, err := os.MkdirTemp("", "asset-cache-go-ro-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(top)
	dir := filepath.Join(top, "c")
	c := open(t, dir, "models")
	if err := c.Add(model{ID: "m1"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	file := filepath.Join(dir, "models.json")
	expired := []byte("{\n    \"expiry\": 1.5,\n    \"data\": {\"m1\": {\"id\": \"m1\"}}\n}")
	if err := os.WriteFile(file, expired, 0o644); err != nil {
		t.Fatal(err)
	}
	for p, m := range map[string]os.FileMode{top: 0o755, dir: 0o755, file: 0o644, filepath.Join(dir, "models.lock"): 0o644} {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary lives in a private folder: run a copy nobody can reach.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(top, "reader.test")
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	in.Close()
	out.Close()
	cmd := exec.Command(bin, "-test.run=^TestHelperExpiredReader$")
	cmd.Env = append(os.Environ(), "ASSET_CACHE_GO_READER="+dir)
	cmd.Dir = top
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o755)
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reader: %v\n%s", err, msg)
	}
	if b, _ := os.ReadFile(file); string(b) != string(expired) {
		t.Fatal("the file was changed; it is left for a writer")
	}
}

func TestChosenModesForNewFilesAndFolders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	c := open(t, dir, "models", WithFileMode(0o660), WithDirMode(0o770|os.ModeSetgid))
	if err := c.Add(model{ID: "m1"}); err != nil {
		t.Fatal(err)
	}
	if got := fileMode(t, dir); got != 0o770|os.ModeSetgid {
		t.Errorf("folder mode %v", got)
	}
	for _, f := range []string{"models.json", "models.lock"} {
		if got := fileMode(t, filepath.Join(dir, f)); got != 0o660 {
			t.Errorf("%s: mode %v, want 0660", f, got)
		}
	}
	_, err := Open("bad", WithDir(dir), WithFileMode(0o400))
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("WithFileMode(0400): %v", err)
	}
}
