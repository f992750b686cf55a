# The login page with the live WhatsApp Web session (LiveDevice) against
# our loopback WhatsApp server (t/mock/wa/server.mjs), in real headless
# Chromium, for two devices:
# - "main" by QR: the QR read by zbarimg from a screenshot of the page
#   equals the API's QR text; the mock's phone scans what the page showed,
#   the device pairs, logs in, and the page shows "Linked as +<the phone>";
# - "sales" by phone number: the page's form asks for a code, the page
#   shows the code GET pair-code answers, the mock's person types what the
#   page showed into the phone, and the page shows "Linked as +<that
#   number>";
# each without a reload and with no Content-Security-Policy violation.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Chromium;
use ChatwootTest::FakeChatwoot;
use JSON::PP qw(decode_json encode_json);
use POSIX ();
use Test::More;

plan skip_all => 'chromium is not installed (build.sh installs it)'
    unless ChatwootTest::Chromium::available();

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
like($ready->{root_key}, qr/^[0-9a-f]{64}$/, 'the mock: a test root key');
sub control {
    my ($what, $body) = @_;
    my ($code, undef, $text) = $t->http($mock_port, 'POST', "/control/$what",
        body => encode_json($body), headers => { 'Content-Type' => 'application/json' });
    return ($code, $text);
}

my $port = free_port();
my $server = "whatsapp_server $ready->{url} root_key=$ready->{root_key};";
$t->write_config($t->chatwoot_http(
    port => $port, webhook => 'main',
    inbox => { url => "http://127.0.0.1:$fake/", extra => "        $server\n" },
    http => "    chatwoot_inbox sales { url http://127.0.0.1:$fake/; account 1; inbox 8; "
        . "api_token test-api-token; webhook_secret s; control_conversation off; $server }\n",
    server => "        location /chatwoot/devices/ { chatwoot_devices; }\n",
))->run;
$t->wait_helper_running;

sub device {
    my ($name) = @_;
    my ($code, undef, $body) = $t->http($port, 'GET', '/chatwoot/devices/' . ($name // 'main'));
    return $code == 200 ? decode_json($body) : {};
}
$t->wait_for(sub { device()->{qr_pending} }, 30, 'the live device showing a QR');

my $browser = ChatwootTest::Chromium->start($t);
my $page = $browser->open("http://127.0.0.1:$port/chatwoot/devices/main/login");
$page->js('window.__sameDocument = true');
$page->wait_until(q{!document.getElementById('qr-box').hidden
    && document.getElementById('qr').complete
    && document.getElementById('qr').naturalWidth > 0});
like($page->text, qr/Scan this QR code with WhatsApp/, 'page: it asks for a scan');

my $png = $t->write_file('page.png', $page->screenshot);
my $decoded = `zbarimg --quiet --raw $png 2>/dev/null`;
$decoded =~ s/\n+\z//;
my (undef, undef, $api_qr) = $t->http($port, 'GET', '/chatwoot/devices/main/qr?format=text');
ok(length $decoded, 'zbarimg reads a QR from the screenshot');
is($decoded, $api_qr, 'the screenshot\'s QR is the API\'s QR text');

# The phone scans what the page showed.
my ($code, $answer) = control('scan', { qr => $decoded, phone => '5511987654321' });
is($code, 200, 'the mock\'s phone scanned the page\'s QR') or diag $answer;
$page->wait_until(q{document.body.innerText.includes('Linked as +5511987654321')}, 40);
pass('page: linked as the scanning phone\'s number');
ok($page->js(q{document.getElementById('qr-box').hidden}), 'page: the QR is gone');
ok($page->js('window.__sameDocument === true'), 'page: no reload');
like(device()->{pn_jid}, qr/^5511987654321[:@]/, 'the device JSON agrees');
is_deeply([$page->csp_violations], [], 'page: no Content-Security-Policy violation');

# "sales" by phone number, from the page's form.
$t->wait_for(sub { device('sales')->{qr_pending} }, 30, 'sales showing a QR');
my $sales = $browser->open("http://127.0.0.1:$port/chatwoot/devices/sales/login");
$sales->js('window.__sameDocument = true');
$sales->wait_until(q{!document.getElementById('actions').hidden});
$sales->js(q{
    document.getElementById('phone').value = '+55 11 91234-5678';
    document.getElementById('pair-phone').requestSubmit();
});
my $shown = $sales->wait_until(q{!document.getElementById('code-box').hidden
    && /^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(document.getElementById('code').textContent)
    && document.getElementById('code').textContent}, 30);
like($sales->text, qr/Type the code below on your phone/, 'sales page: it asks to type the code');
my ($c, undef, $pc) = $t->http($port, 'GET', '/chatwoot/devices/sales/pair-code');
is($c, 200, 'GET pair-code: 200 once the code is there');
is(decode_json($pc)->{code}, $shown, 'the page shows the code the API answers');
($code, $answer) = control('enter-code', { code => $shown });
is($code, 200, 'the mock\'s person typed the page\'s code into the phone') or diag $answer;
$sales->wait_until(q{document.body.innerText.includes('Linked as +5511912345678')}, 40);
pass('sales page: linked as the number typed into the form');
ok($sales->js(q{document.getElementById('code-box').hidden}), 'sales page: the code is gone');
ok($sales->js('window.__sameDocument === true'), 'sales page: no reload');
like(device('sales')->{pn_jid}, qr/^5511912345678[:@]/, 'the device JSON agrees');
is_deeply([$sales->csp_violations], [], 'sales page: no CSP violation');
$browser->stop;
unlike($t->read_file('error.log'), qr/\Q$shown\E/, 'the pair code is never logged');

unlike($t->read_file('error.log'), qr/\Q$api_qr\E/, 'the QR is never logged');

$t->finish;
done_testing;
