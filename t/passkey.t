# Passkey-gated linking through the devices API, with the live WhatsApp
# Web session (LiveDevice) against our loopback WhatsApp server
# (t/mock/wa/server.mjs), whose account "5511911110000" links only with its
# passkey; the operator's browser is a software authenticator
# (t/mock/wa/software-assertion.mjs) fed with the options the API shows.
# - the phone scans the QR -> state passkey, GET passkey shows the options;
#   the assertion POSTed -> the code, the same as the phone's; POST
#   passkey/confirm -> connected, with the account's JIDs;
# - the endpoints' refusals: not JSON, not an object, too large, wrong
#   methods (405 with Allow), 409 outside a ceremony, no-store everywhere;
# - failures, each ending in a fresh QR (qr_serial moves, pairing_qr):
#   another key (the server refuses the prologue), a wrong rpId (refused
#   before anything is sent: the command fails naming it), a late one (the
#   challenge expired at the server);
# - the login page in headless Chromium in state passkey: the snippet and
#   the paste box are there, the snippet run against a stub of
#   navigator.credentials.get gives the assertion back in WebAuthn's JSON
#   form, and pasting a good assertion into the page's form, then
#   confirming the code on the page, links the device.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Chromium;
use ChatwootTest::FakeChatwoot;
use IPC::Open2 qw(open2);
use JSON::PP qw(decode_json encode_json);
use POSIX ();
use Test::More;

my $t = ChatwootTest->new;
my $dir = $t->dir;
my $fake = ChatwootTest::FakeChatwoot->spawn($t, account => 1, token => 'test-api-token',
                                             inbox => { id => 7, name => 'WhatsApp' });

# The mock: its `ready {...}` line names its URL and root key.
my $mock_port = free_port();
$t->run_daemon(sub {
    open STDOUT, '>', "$dir/mock.out";
    open STDERR, '>', "$dir/mock.log";
    exec('node', 't/mock/wa/server.mjs', '--port', $mock_port) or POSIX::_exit(127);
});
my $ready = $t->wait_for(sub {
    $t->read_file('mock.out') =~ /^ready (\{.*\})$/m ? decode_json($1) : undef;
}, 20, 'the WhatsApp mock ready');

sub control {
    my ($what, $body) = @_;
    my ($code, undef, $text) = $t->http($mock_port, 'POST', "/control/$what",
        body => encode_json($body), headers => { 'Content-Type' => 'application/json' });
    return ($code, $text =~ /^\s*[{\[]/ ? decode_json($text) : $text);
}
sub mock_events {
    my ($type, $since, $conn) = @_;
    my $q = "type=$type&since=" . ($since // 0) . (defined $conn ? "&conn=$conn" : '');
    my (undef, undef, $text) = $t->http($mock_port, 'GET', "/control/events?$q");
    return @{ decode_json($text)->{events} };
}
sub mock_wait {
    my ($type, $since, $conn) = @_;
    my $q = "type=$type&since=" . ($since // 0) . (defined $conn ? "&conn=$conn" : '')
        . '&timeout=20000';
    my ($code, undef, $text) = $t->http($mock_port, 'GET', "/control/wait?$q");
    return $code == 200 ? decode_json($text) : undef;
}
sub mock_seq {
    my (undef, undef, $text) = $t->http($mock_port, 'GET', '/control/events?since=0');
    my @e = @{ decode_json($text)->{events} };
    return @e ? $e[-1]{seq} : 0;
}

my $phone = '5511911110000';
my ($code, $account) = control('account', { phone => $phone, passkey => JSON::PP::true });
is($code, 200, 'the mock: a passkey-gated account') or diag explain $account;
ok($account->{passkey}{private_jwk}, 'the mock hands the test the account\'s passkey');

my $port = free_port();
my $server = "whatsapp_server $ready->{url} root_key=$ready->{root_key};";
$t->write_config($t->chatwoot_http(
    port => $port, webhook => 'main',
    inbox => { url => "http://127.0.0.1:$fake/", extra => "        $server\n" },
    http => "    chatwoot_inbox gate { url http://127.0.0.1:$fake/; account 1; inbox 8; "
        . "api_token test-api-token; webhook_secret s; control_conversation off; $server }\n",
    server => "        location /chatwoot/devices/ { chatwoot_devices; }\n",
))->run;
$t->wait_helper_running;

my $api = '/chatwoot/devices';
sub api {
    my ($method, $path, $body) = @_;
    my ($c, $h, $text) = $t->http($port, $method, "$api/$path",
        defined $body ? (body => $body, headers => { 'Content-Type' => 'application/json' }) : ());
    my $json = defined $text && $text =~ /^\s*[{\[]/ ? decode_json($text) : undef;
    return ($c, $json, $h, $text);
}
sub device {
    my ($name) = @_;
    my ($c, $d) = api('GET', $name);
    return $c == 200 ? $d : {};
}
# What became of a command: waits until it is no longer pending.
sub outcome {
    my ($id) = @_;
    return $t->wait_for(sub {
        my ($c, $o) = api('GET', "commands/$id");
        $c == 200 && $o->{state} ne 'pending' ? $o : undef;
    }, 20, "command $id settled");
}
# The software authenticator's assertion for these options.
my @made;
sub assertion {
    my ($options, $variant) = @_;
    my $pid = open2(my $out, my $in, 'node', 't/mock/wa/software-assertion.mjs');
    print $in encode_json({ options => $options, passkey => $account->{passkey},
                            variant => $variant // 'good' });
    close $in;
    my $json = do { local $/; <$out> };
    waitpid $pid, 0;
    is($? >> 8, 0, "the software authenticator made a $variant assertion") if defined $variant;
    chomp $json;
    push @made, decode_json($json);
    return $json;
}
# The phone scans the QR `name` shows; the account asks for its passkey.
# Returns the mock's connection and the device's qr_serial before.
sub scan {
    my ($name) = @_;
    my $d = $t->wait_for(sub { my $d = device($name); $d->{qr_pending} ? $d : undef },
                         30, "$name showing a QR");
    my (undef, undef, undef, $qr) = api('GET', "$name/qr?format=text");
    my ($c, $r) = control('scan', { qr => $qr, phone => $phone });
    is($c, 200, "$name: the phone scanned") or diag explain $r;
    ok($r->{passkey}, "$name: the account asks for its passkey instead of pairing");
    $t->wait_for(sub { device($name)->{state} eq 'passkey' }, 20, "$name in state passkey");
    return ($r->{conn}, $d->{qr_serial}, $qr);
}
# After a failure: a fresh QR, a new serial, pairing_qr, and why.
sub fresh_qr {
    my ($name, $serial, $old_qr, $why, $what) = @_;
    my $d = $t->wait_for(sub {
        my $d = device($name);
        $d->{state} eq 'pairing_qr' && $d->{qr_pending} && $d->{qr_serial} != $serial ? $d : undef;
    }, 30, "$name back to a fresh QR after $what");
    pass("$what: back to state pairing_qr with a new qr_serial");
    like($d->{error} // '', $why, "$what: the device says why");
    my (undef, undef, undef, $qr) = api('GET', "$name/qr?format=text");
    isnt($qr, $old_qr, "$what: a QR other than the scanned one");
    my ($c, $p) = api('GET', "$name/passkey");
    is($c, 409, "$what: GET passkey 409 out of the ceremony");
    is($p->{state}, 'pairing_qr', "$what: ... naming the state");
}

# --- The endpoints outside a ceremony, and their refusals -------------

$t->wait_for(sub { device('main')->{qr_pending} }, 30, 'main showing a QR');
my ($c, $p, $h) = api('GET', 'main/passkey');
is($c, 409, 'GET passkey: 409 while the device shows a QR');
is($p->{state}, 'pairing_qr', '... with its state');
like($p->{error}, qr/not in a passkey ceremony/, '... and why');
ok(!defined $p->{step} && !defined $p->{options} && !defined $p->{code}, '... and nothing else');
is($h->{'cache-control'}, 'no-store', '... not to be cached');

($c, $p) = api('POST', 'main/passkey', '{"id":');
is($c, 400, 'POST passkey: not JSON is 400');
like($p->{error}, qr/not JSON/, '... saying so');
($c, $p) = api('POST', 'main/passkey', '["public-key"]');
is($c, 400, 'POST passkey: a JSON array is 400');
like($p->{error}, qr/JSON object/, '... saying so');
($c, $p) = api('POST', 'main/passkey', '{"pad":"' . ('x' x (64 * 1024)) . '"}');
is($c, 413, 'POST passkey: over 64 KiB is 413');
($c, undef, $h) = api('GET', 'main/passkey/confirm');
is($c, 405, 'GET passkey/confirm: 405');
is($h->{allow}, 'POST', '... Allow: POST');
($c, undef, $h) = api('PUT', 'main/passkey', '{}');
is($c, 405, 'PUT passkey: 405');
is($h->{allow}, 'GET, HEAD, POST', '... Allow: GET, HEAD, POST');
($c) = api('GET', 'nobody/passkey');
is($c, 404, 'GET passkey of no such device: 404');

# Outside a ceremony, the helper refuses a step with its reason.
($c, $p) = api('POST', 'main/passkey', '{"id":"x","type":"public-key"}');
is($c, 202, 'POST passkey outside a ceremony: 202 with an id');
my $o = outcome($p->{id});
is($o->{state}, 'failed', '... the command fails');
is($o->{kind}, 'passkey', '... a passkey command');
like($o->{reason}, qr/no passkey ceremony waits for an assertion/, '... saying why');
($c, $p) = api('POST', 'main/passkey/confirm');
is($c, 202, 'POST passkey/confirm outside a ceremony: 202 with an id');
$o = outcome($p->{id});
is($o->{kind}, 'passkey_confirm', '... a passkey_confirm command');
like($o->{reason}, qr/no passkey ceremony waits for a confirmation/, '... failed, saying why');

# --- Linking: scan, assertion, code, confirmation ---------------------

my $since = mock_seq();
my ($conn, $serial, $qr) = scan('main');
($c, $p, $h) = api('GET', 'main/passkey');
is($c, 200, 'GET passkey: 200 in the ceremony');
is($h->{'cache-control'}, 'no-store', '... not to be cached');
is($p->{state}, 'passkey', '... state passkey');
is($p->{step}, 'assertion', '... step assertion');
is(ref $p->{options}, 'HASH', '... the options, a JSON object');
is($p->{options}{rpId}, 'whatsapp.com', '... for whatsapp.com');
my ($requested) = mock_events('passkey-requested', $since, $conn);
is_deeply($p->{options}, $requested->{options}, '... the options the server sent');
ok(!defined $p->{code}, '... no code yet');
cmp_ok($p->{expires_at}, '>', time, '... a deadline ahead');
my $dev = device('main');
ok(!$dev->{qr_pending}, 'the device shows no QR meanwhile');
unlike(encode_json($dev), qr/\Q$p->{options}{challenge}\E/, 'the device JSON has no options');
($c) = api('GET', 'main/qr?format=text');
is($c, 409, 'GET qr: 409 in state passkey');

my $good = assertion($p->{options}, 'good');
($c, $p) = api('POST', 'main/passkey', $good);
is($c, 202, 'POST passkey: 202') or diag explain $p;
like($p->{id}, qr/^[0-9a-f]{32}$/, '... with the command\'s id');
$o = outcome($p->{id});
is($o->{state}, 'done', 'the assertion command is done') or diag explain $o;
my $shown = $t->wait_for(sub {
    my ($c, $p) = api('GET', 'main/passkey');
    $c == 200 && ($p->{step} // '') eq 'confirm' ? $p : undef;
}, 20, 'the code shown');
like($shown->{code}, qr/^[A-Z0-9]{4}-[A-Z0-9]{4}$/, 'step confirm: the code, ABCD-EFGH');
ok(!defined $shown->{options}, '... the options are gone');
cmp_ok($shown->{expires_at}, '>', time, '... a deadline ahead');
my $phone_code = mock_wait('passkey-code', $since, $conn);
(my $plain = $shown->{code}) =~ s/-//;
is($plain, $phone_code->{code}, 'the code is the one the phone shows');
my ($prologue) = mock_events('passkey-prologue', $since, $conn);
ok($prologue->{handoff_proof}, 'the prologue carried the handoff proof');

($c, $p) = api('POST', 'main/passkey/confirm');
is($c, 202, 'POST passkey/confirm: 202');
$o = outcome($p->{id});
is($o->{state}, 'done', 'the confirmation command is done');
$dev = $t->wait_for(sub { my $d = device('main'); $d->{state} eq 'connected' ? $d : undef },
                    40, 'main connected');
like($dev->{pn_jid}, qr/^$phone:\d+\@s\.whatsapp\.net$/, 'connected as the account\'s number');
like($dev->{lid}, qr/\@lid$/, '... with its LID');
($c, $p) = api('GET', 'main/passkey');
is($c, 409, 'GET passkey: 409 once connected');
is($p->{state}, 'connected', '... naming the state');

# --- Failures, each back to a fresh QR --------------------------------

# Another key: our checks cannot tell; the server refuses the prologue.
$since = mock_seq();
($conn, $serial, $qr) = scan('gate');
(undef, $p) = api('GET', 'gate/passkey');
($c, $p) = api('POST', 'gate/passkey', assertion($p->{options}, 'another key'));
is($c, 202, 'another key: 202');
my $refused = mock_wait('passkey-refused', $since, $conn);
like($refused->{reason}, qr/signature does not verify/, 'another key: the server refused it');
fresh_qr('gate', $serial, $qr, qr/passkey/, 'another key');

# A wrong rpId: refused here, before anything is sent.
$since = mock_seq();
($conn, $serial, $qr) = scan('gate');
(undef, $p) = api('GET', 'gate/passkey');
($c, $p) = api('POST', 'gate/passkey', assertion($p->{options}, 'wrong rpId'));
is($c, 202, 'wrong rpId: 202');
$o = outcome($p->{id});
is($o->{state}, 'failed', 'wrong rpId: the command fails');
like($o->{reason}, qr/^authenticatorData rpIdHash .*another site$/, '... naming the rpId hash');
fresh_qr('gate', $serial, $qr, qr/rpIdHash/, 'wrong rpId');
is(scalar(mock_events('passkey-prologue', $since, $conn)), 0,
   'wrong rpId: the server never saw a prologue');

# A late one: the challenge expired at the server.
$since = mock_seq();
($conn, $serial, $qr) = scan('gate');
(undef, $p) = api('GET', 'gate/passkey');
my $late = assertion($p->{options}, 'good');
($c) = control('expire-passkey', { conn => $conn });
is($c, 200, 'late: the mock expired the challenge');
($c, $p) = api('POST', 'gate/passkey', $late);
is($c, 202, 'late: 202');
$refused = mock_wait('passkey-refused', $since, $conn);
like($refused->{reason}, qr/expired/, 'late: the server refused it as expired');
fresh_qr('gate', $serial, $qr, qr/passkey/, 'late');

# --- The login page in state passkey ----------------------------------

SKIP: {
    skip 'chromium is not installed (build.sh installs it)', 1
        unless ChatwootTest::Chromium::available();

    my $browser = ChatwootTest::Chromium->start($t);
    my $page = $browser->open("http://127.0.0.1:$port$api/gate/login");
    $page->js('window.__sameDocument = true');

    # A paste for another site, through the page's form: the page says
    # why, with the command's reason, and shows the fresh QR.
    ($conn, $serial, $qr) = scan('gate');
    (undef, $p) = api('GET', 'gate/passkey');
    $page->wait_until(q{!document.getElementById('passkey-assertion').hidden}, 20);
    $page->js('document.getElementById("assertion").value = '
              . encode_json(assertion($p->{options}, 'wrong rpId'))
              . '; document.getElementById("passkey-form").requestSubmit();');
    my $said = $page->wait_until(q{/failed: .*rpIdHash/.test(
        document.getElementById('message').textContent)
        && document.getElementById('message').textContent}, 30);
    like($said, qr/another site/, 'page: a refused paste is shown with the command\'s reason');
    $page->wait_until(q{!document.getElementById('qr-box').hidden
        && document.getElementById('passkey-box').hidden}, 30);
    pass('page: then the fresh QR, the passkey steps gone');
    ok($page->js(q{document.getElementById('passkey-snippet').value === ''
        && document.getElementById('passkey-assertion').hidden}),
       'page: ... the old snippet too');
    like($page->text, qr/passkey: assertion: authenticatorData rpIdHash/,
         'page: ... and why the last attempt failed');

    ($conn, $serial, $qr) = scan('gate');
    (undef, $p) = api('GET', 'gate/passkey');
    my $options = $p->{options};
    $page->wait_until(q{!document.getElementById('passkey-box').hidden
        && !document.getElementById('passkey-assertion').hidden
        && document.getElementById('passkey-snippet').value.length > 0}, 20);
    like($page->text, qr/protected by a passkey/, 'page: it explains the passkey step');
    like($page->text, qr{https://web\.whatsapp\.com}, 'page: ... where to make the assertion');
    my $snippet = $page->js(q{document.getElementById('passkey-snippet').value});
    like($snippet, qr/navigator\.credentials\.get/, 'page: the console snippet is shown');
    like($snippet, qr/\Q$options->{challenge}\E/, 'page: ... made for the options shown');
    ok($page->js(q{!!document.getElementById('assertion')
        && !!document.getElementById('passkey-form')}), 'page: the paste box is there');
    ok($page->js(q{document.getElementById('qr-box').hidden}), 'page: no QR meanwhile');

    # The snippet as a console runs it, against a stub authenticator that
    # answers with the software one's bytes: it decodes the options' binary
    # fields and encodes the credential back into WebAuthn's JSON form.
    my $made = decode_json(assertion($options));
    $page->js('(() => {
        const made = ' . encode_json($made) . ';
        const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")),
                                             (c) => c.charCodeAt(0)).buffer;
        window.__realGet = navigator.credentials.get;
        navigator.credentials.get = async (o) => {
            window.__asked = o;
            return { id: made.id, rawId: bytes(made.rawId), type: made.type, response: {
                clientDataJSON: bytes(made.response.clientDataJSON),
                authenticatorData: bytes(made.response.authenticatorData),
                signature: bytes(made.response.signature), userHandle: null } };
        };
    })()');
    # Pasted into the console: evaluated as it is, as DevTools would.
    my $out = $page->js($snippet);
    my $ran = $page->js('(() => {
        navigator.credentials.get = window.__realGet;
        const b64 = (b) => btoa(String.fromCharCode(...new Uint8Array(b)));
        const p = window.__asked.publicKey;
        return { challenge: b64(p.challenge), allowed: p.allowCredentials.map((c) => b64(c.id)),
                 rpId: p.rpId };
    })()');
    $ran->{out} = $out;
    is_deeply(decode_json($ran->{out}), $made, 'the snippet gives back the credential as JSON');
    (my $want = $options->{challenge}) =~ tr{-_}{+/};
    like($ran->{challenge}, qr/^\Q$want\E=*$/, 'the snippet hands WebAuthn the challenge as bytes');
    is($ran->{rpId}, 'whatsapp.com', '... and the rpId');
    is(scalar @{ $ran->{allowed} }, scalar @{ $options->{allowCredentials} },
       '... and each allowed credential');

    # The operator pastes what the snippet printed and sends it.
    $page->js('document.getElementById("assertion").value = ' . encode_json($ran->{out})
              . '; document.getElementById("passkey-form").requestSubmit();');
    my $page_code = $page->wait_until(q{!document.getElementById('passkey-confirm').hidden
        && /^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(document.getElementById('passkey-code').textContent)
        && document.getElementById('passkey-code').textContent}, 30);
    like($page->text, qr/Your phone now shows a code/, 'page: it asks to compare the codes');
    my (undef, $api_code) = api('GET', 'gate/passkey');
    is($page_code, $api_code->{code}, 'page: the code GET passkey shows');
    $page->js(q{document.getElementById('confirm-code').click()});
    $page->wait_until(q{document.body.innerText.includes('Linked as +5511911110000')}, 40);
    pass('page: linked as the account\'s number');
    ok($page->js(q{document.getElementById('passkey-box').hidden}), 'page: the passkey steps are gone');
    ok($page->js('window.__sameDocument === true'), 'page: no reload');
    is_deeply([$page->csp_violations], [], 'page: no Content-Security-Policy violation');
    like(device('gate')->{pn_jid}, qr/^$phone:/, 'the device JSON agrees');
    $browser->stop;
}

my $log = $t->read_file('error.log');
unlike($log, qr/\Q$shown->{code}\E/, 'the passkey code is never logged');
my @leaks = grep { my $r = $_->{response};
                   index($log, $r->{signature}) >= 0 || index($log, $r->{clientDataJSON}) >= 0
                   || index($log, $_->{rawId}) >= 0 } @made;
ok(@made >= 5 && !@leaks, 'no assertion, nor the credential id, is ever logged');

$t->finish;
done_testing;
