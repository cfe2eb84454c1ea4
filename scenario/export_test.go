package scenario

import (
	"archive/zip"
	"bytes"
	"io"
	"net/netip"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	uac, uas, err := Pair(loadCall(t, "register.txt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := uas.Command(netip.AddrPort{}), "sipp -sf uas.xml -t u1 -i 10.0.0.20 -p 5060 -m 1"; got != want {
		t.Errorf("uas command\n got %s\nwant %s", got, want)
	}
	want := `sipp -sf uac.xml -t u1 -i 10.0.0.10 -p 5060 -m 1 -au alice -ap "$SIPP_PASSWORD" 10.0.0.1:5060`
	if got := uac.Command(netip.AddrPort{}); got != want {
		t.Errorf("uac command\n got %s\nwant %s", got, want)
	}
	direct := uac.Command(uas.Local)
	if !strings.HasSuffix(direct, " 10.0.0.20:5060") {
		t.Errorf("uac command to the callee: %s", direct)
	}

	// A user part with shell metacharacters is quoted, not run.
	odd := *uac
	odd.Service, odd.Challenge = "bob'; rm -rf ~", false
	if got := odd.Command(netip.AddrPort{}); !strings.Contains(got, `-s 'bob'\''; rm -rf ~' `) {
		t.Errorf("command with an odd user: %s", got)
	}
}

func TestZip(t *testing.T) {
	uac, uas, err := Pair(loadCall(t, "answered.txt"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Zip(uac, uas, t0)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Zip(uac, uas, t0)
	if !bytes.Equal(data, again) {
		t.Error("two zips of the same call differ")
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(b)
	}
	if files["uac.xml"] != string(uac.XML) || files["uas.xml"] != string(uas.XML) {
		t.Error("the zip's scenarios are not the generated ones")
	}
	readme := files["README.txt"]
	for _, want := range []string{
		"sipp -sf uas.xml -t u1 -i 10.0.0.20 -p 5060 -m 1\n",
		"sipp -sf uac.xml -t u1 -i 10.0.0.10 -p 5060 -m 1 -s bob 10.0.0.1:5060\n",
		"sipp -sf uac.xml -t u1 -i 10.0.0.10 -p 5060 -m 1 -s bob 10.0.0.20:5060\n",
		"INVITE answered 200",
		"Not reproduced: media",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.txt lacks %q:\n%s", want, readme)
		}
	}
	if strings.Contains(readme, "SIPP_PASSWORD") {
		t.Errorf("README.txt asks for a password the call never needed:\n%s", readme)
	}
}
