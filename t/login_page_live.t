# The login page with the live WhatsApp Web session (LiveDevice) against
# our loopback WhatsApp server (t/mock/wa/server.mjs), in real headless
# Chromium: the QR read by zbarimg from a screenshot of the page equals the
# API's QR text; the mock's phone scans what the page showed, the device
# pairs, logs in, and the page shows "Linked as +<the phone>" without a
# reload, with no Content-Security-Policy violation.
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
$t->write_config($t->chatwoot_http(
    port => $port,
    inbox => { url => "http://127.0.0.1:$fake/",
               extra => "        whatsapp_server $ready->{url} root_key=$ready->{root_key};\n" },
    server => "        location /chatwoot/devices/ { chatwoot_devices; }\n",
))->run;
$t->wait_helper_running;

sub device {
    my ($code, undef, $body) = $t->http($port, 'GET', '/chatwoot/devices/main');
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
$browser->stop;

unlike($t->read_file('error.log'), qr/\Q$api_qr\E/, 'the QR is never logged');

$t->finish;
done_testing;
