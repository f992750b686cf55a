# nginx -t: the example configuration passes; every bad directive form fails
# with an [emerg] that names the directive or the bad value.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use Test::More;

my $t = ChatwootTest->new;
my $dir = $t->dir;
my $module = $ENV{CHATWOOT_MODULE};

# examples/nginx.conf, as `./build.sh run` uses it.
mkdir "$dir/modules";
symlink $module, "$dir/modules/ngx_http_chatwoot_module.so" or die $!;
open my $ex, '<', 'examples/nginx.conf' or die $!;
my $example = do { local $/; <$ex> };
$example = "pid $dir/nginx.pid;\nerror_log $dir/error.log;\n$example";
$example =~ s/^(\s*)user\b.*$//m;
$t->write_file('example.conf', $example);
my ($rc, $out) = $t->test_config("$dir/example.conf");
is($rc, 0, 'examples/nginx.conf passes nginx -t') or diag $out;
like($out, qr/test is successful/, 'nginx says so');

$t->write_file('junk.pem', "not a certificate\n");

my $port = free_port();
sub http_conf {
    my (%o) = @_;
    return $t->chatwoot_http(port => $port, %o);
}

# A valid inbox block named "x" with one line added, and a required line
# left out when $drop says which.
sub inbox_block {
    my ($name, $extra, $drop) = @_;
    $drop //= '';
    $extra //= '';
    my @lines = (
        $drop eq 'no-url' ? () : ($extra =~ /^url / ? () : 'url http://127.0.0.1:9;'),
        $drop eq 'no-account' ? () : 'account 1;',
        $drop eq 'no-inbox' ? () : 'inbox 7;',
        $drop eq 'no-token' ? () : 'api_token t;',
        'webhook_secret s;',
    );
    @lines = grep { !($extra =~ /^webhook_secret/ && /^webhook_secret/) } @lines;
    return "chatwoot_inbox $name { @lines " . ($extra // '') . ' }';
}
sub inbox_conf {
    my ($extra, $drop) = @_;
    return "chatwoot_state_path $dir/state; " . inbox_block('x', $extra, $drop);
}

my @bad = (
    [ 'zone too small', http_conf(zone => 'size=64k'),
      qr/\[emerg\].*chatwoot zone "size=64k" is too small, the least is 128k/ ],
    [ 'zone size not a size', http_conf(zone => 'size=lots'),
      qr/\[emerg\].*invalid zone size "size=lots"/ ],
    [ 'zone without size', http_conf(zone => 'queue=10'),
      qr/\[emerg\].*"chatwoot_zone" must have "size" parameter/ ],
    [ 'zone queue zero', http_conf(zone => 'size=1m queue=0'),
      qr/\[emerg\].*invalid queue length "queue=0", it must be 1 to 1048576/ ],
    [ 'zone queue not a number', http_conf(zone => 'size=1m queue=many'),
      qr/\[emerg\].*invalid queue length "queue=many"/ ],
    [ 'zone unknown parameter', http_conf(zone => 'size=1m colour=blue'),
      qr/\[emerg\].*invalid parameter "colour=blue"/ ],
    [ 'zone twice', http_conf(zone => 'size=1m', http => 'chatwoot_zone size=2m;'),
      qr/\[emerg\].*"chatwoot_zone" directive is duplicate/ ],
    [ 'zone too many arguments', http_conf(zone => 'size=1m queue=5 extra'),
      qr/\[emerg\].*invalid number of arguments in "chatwoot_zone"/ ],
    [ 'webhook max_body not a size', http_conf(webhook => 'max_body=big'),
      qr/\[emerg\].*invalid max_body "max_body=big"/ ],
    [ 'webhook max_body zero', http_conf(webhook => 'max_body=0'),
      qr/\[emerg\].*invalid max_body "max_body=0"/ ],
    [ 'webhook unknown parameter', http_conf(webhook => 'secret=x'),
      qr/\[emerg\].*invalid parameter "secret=x"/ ],
    [ 'webhook body larger than the zone takes',
      http_conf(zone => 'size=256k', webhook => 'max_body=200k'),
      qr/\[emerg\].*"chatwoot_webhook" in \S+:\d+: max_body=204800 does not fit the chatwoot_zone of 262144 bytes/ ],
    [ 'webhook without a state path',
      inbox_block('x', '') . " server { listen 127.0.0.1:$port; location /w { chatwoot_webhook; } }",
      qr/\[emerg\].*"chatwoot_webhook" in \S+nginx\.conf:\d+ needs "chatwoot_state_path" in the http block/ ],
    [ 'status without a state path',
      "server { listen 127.0.0.1:$port; location /s { chatwoot_status; } }",
      qr/\[emerg\].*"chatwoot_status" in \S+nginx\.conf:\d+ needs "chatwoot_state_path"/ ],
    [ 'metrics without a state path',
      "server { listen 127.0.0.1:$port; location /m { chatwoot_metrics; } }",
      qr/\[emerg\].*"chatwoot_metrics" in \S+nginx\.conf:\d+ needs "chatwoot_state_path"/ ],
    [ 'metrics with an argument', http_conf(server => 'location /m { chatwoot_metrics on; }'),
      qr/\[emerg\].*invalid number of arguments in "chatwoot_metrics" directive/ ],
    [ 'metrics in the http block', http_conf(http => 'chatwoot_metrics;'),
      qr/\[emerg\].*"chatwoot_metrics" directive is not allowed here/ ],
    [ 'metrics and status in one location',
      http_conf(server => 'location /both { chatwoot_status; chatwoot_metrics; }'),
      qr/\[emerg\].*this location already has a chatwoot handler/ ],
    [ 'devices without a state path',
      "server { listen 127.0.0.1:$port; location /d/ { chatwoot_devices; } }",
      qr/\[emerg\].*"chatwoot_devices" in \S+nginx\.conf:\d+ needs "chatwoot_state_path"/ ],
    [ 'devices in a regex location', http_conf(server => 'location ~ ^/d/ { chatwoot_devices; }'),
      qr/\[emerg\].*"chatwoot_devices" needs a prefix location, not a regular expression/ ],
    [ 'devices with an argument', http_conf(server => 'location /d/ { chatwoot_devices on; }'),
      qr/\[emerg\].*invalid number of arguments in "chatwoot_devices"/ ],
    [ 'import in a regex location', http_conf(server => 'location ~ ^/s { chatwoot_import; }'),
      qr/\[emerg\].*"chatwoot_import" needs a prefix location, not a regular expression/ ],
    [ 'import with an argument', http_conf(server => 'location /s { chatwoot_import on; }'),
      qr/\[emerg\].*invalid number of arguments in "chatwoot_import"/ ],
    [ 'webhook in the http block', http_conf(http => 'chatwoot_webhook;'),
      qr/\[emerg\].*"chatwoot_webhook" directive is not allowed here/ ],
    [ 'two handlers in one location',
      http_conf(server => 'location /both { chatwoot_webhook; chatwoot_status; }'),
      qr/\[emerg\].*this location already has a chatwoot handler/ ],
    [ 'state path twice', http_conf(http => "chatwoot_state_path $dir/other;"),
      qr/\[emerg\].*"chatwoot_state_path" directive is duplicate/ ],
    [ 'state path in a server', "server { chatwoot_state_path $dir/s; }",
      qr/\[emerg\].*"chatwoot_state_path" directive is not allowed here/ ],
    [ 'url with another scheme', inbox_conf('url ftp://chatwoot.example;'),
      qr/\[emerg\].*invalid Chatwoot URL "ftp:\/\/chatwoot\.example", it must start with "http:\/\/" or "https:\/\/"/ ],
    [ 'url check interval too short', inbox_conf('url http://127.0.0.1:1 check=100ms;'),
      qr/\[emerg\].*invalid check interval "check=100ms", it must be 1s or more/ ],
    [ 'url unknown parameter', inbox_conf('url http://127.0.0.1:1 every=5s;'),
      qr/\[emerg\].*invalid parameter "every=5s"/ ],
    [ 'url twice', inbox_conf('url http://a.example; url http://b.example;'),
      qr/\[emerg\].*"url" of chatwoot_inbox "x" is duplicate/ ],
    [ 'inbox without url', inbox_conf('', 'no-url'),
      qr/\[emerg\].*chatwoot_inbox "x" needs "url"/ ],
    [ 'inbox without account', inbox_conf('', 'no-account'),
      qr/\[emerg\].*chatwoot_inbox "x" needs "account"/ ],
    [ 'inbox without api token', inbox_conf('', 'no-token'),
      qr/\[emerg\].*chatwoot_inbox "x" needs "api_token" or "api_token_file"/ ],
    [ 'account not a number', inbox_conf('account one;', 'no-account'),
      qr/\[emerg\].*invalid account id "one": a positive number/ ],
    [ 'inbox id zero', inbox_conf('inbox 0;', 'no-inbox'),
      qr/\[emerg\].*invalid inbox "0": an id \(a positive number\) or name=<name>/ ],
    [ 'inbox without id or name', inbox_conf('', 'no-inbox'),
      qr/\[emerg\].*chatwoot_inbox "x" needs "inbox"/ ],
    [ 'inbox by empty name', inbox_conf('inbox name=;', 'no-inbox'),
      qr/\[emerg\].*invalid inbox "name=": an id/ ],
    [ 'inbox twice', inbox_conf('inbox name=WhatsApp;'),
      qr/\[emerg\].*"inbox" of chatwoot_inbox "x" is duplicate/ ],
    [ 'create for an inbox by id', inbox_conf('inbox 7 create=http://bridge.example/w;', 'no-inbox'),
      qr/\[emerg\].*"create=http:\/\/bridge.example\/w" needs an inbox given by name=<name>/ ],
    [ 'create with another scheme', inbox_conf('inbox name=WA create=ftp://bridge.example/w;', 'no-inbox'),
      qr/\[emerg\].*invalid webhook URL "ftp:\/\/bridge.example\/w"/ ],
    [ 'inbox unknown parameter', inbox_conf('inbox name=WA make=yes;', 'no-inbox'),
      qr/\[emerg\].*invalid parameter "make=yes"/ ],
    [ 'unknown directive in an inbox', inbox_conf('colour blue;'),
      qr/\[emerg\].*unknown directive "colour" in chatwoot_inbox "x"/ ],
    [ 'flag neither on nor off', inbox_conf('ignore_groups yes;'),
      qr/\[emerg\].*invalid value "yes", it must be "on" or "off"/ ],
    [ 'control_conversation neither on nor off', inbox_conf('control_conversation maybe;'),
      qr/\[emerg\].*invalid value "maybe", it must be "on" or "off"/ ],
    [ 'too many arguments in an inbox', inbox_conf('account 1 2;', 'no-account'),
      qr/\[emerg\].*invalid number of arguments in "account" of chatwoot_inbox "x"/ ],
    [ 'bad JID', inbox_conf('ignore_jids 5511999;'),
      qr/\[emerg\].*invalid JID "5511999" in ignore_jids/ ],
    [ 'import_days zero', inbox_conf('import_days 0;'),
      qr/\[emerg\].*invalid import_days "0", it must be 1 to 36500/ ],
    [ 'import_on_link neither on nor off', inbox_conf('import_on_link yes;'),
      qr/\[emerg\].*invalid value "yes", it must be "on" or "off"/ ],
    [ 'concurrency zero', inbox_conf('concurrency 0;'),
      qr/\[emerg\].*invalid concurrency "0", it must be 1 to 256/ ],
    [ 'device_timeout zero', inbox_conf('device_timeout 0;'),
      qr/\[emerg\].*invalid device_timeout "0", e\.g\. "5m"/ ],
    [ 'throttle_backoff shorter cap', inbox_conf('throttle_backoff 10s 1s;'),
      qr/\[emerg\].*invalid throttle_backoff "10s 1s", e\.g\. "15s 60s"/ ],
    [ 'bad rate', inbox_conf('rate fast;'),
      qr/\[emerg\].*invalid rate "fast", e\.g\. "10r\/s"/ ],
    [ 'rate with a tail after r/s', inbox_conf('rate 10r/sX;'),
      qr/\[emerg\].*invalid rate "10r\/sX", e\.g\. "10r\/s"/ ],
    [ 'rate per minute', inbox_conf('rate 10r/m;'),
      qr/\[emerg\].*invalid rate "10r\/m", e\.g\. "10r\/s"/ ],
    [ 'api token with a line break', inbox_conf(qq{api_token "a\nX-Evil: 1";}, 'no-token'),
      qr/\[emerg\].*invalid "api_token" in chatwoot_inbox "x": it has control characters/ ],
    [ 'missing secret file', inbox_conf("webhook_secret_file $dir/nope;"),
      qr/\[emerg\].*open\(\) "\Q$dir\E\/nope" failed/ ],
    [ 'missing URL token file', inbox_conf("webhook_token_file $dir/nope;"),
      qr/\[emerg\].*open\(\) "\Q$dir\E\/nope" failed/ ],
    [ 'URL token set twice', inbox_conf('webhook_token a; webhook_token b;'),
      qr/\[emerg\].*the webhook token of chatwoot_inbox "x" is set twice/ ],
    [ 'import_database not PostgreSQL', inbox_conf('import_database mysql://cw:hunter2@db/chatwoot;'),
      qr/\[emerg\].*invalid "import_database" in chatwoot_inbox "x": a postgresql:\/\/ URL or libpq key=value pairs/ ],
    [ 'import_database libpq cannot parse', inbox_conf('import_database "host=db passwort=hunter2 dbname=c";'),
      qr/\[emerg\].*invalid "import_database" in chatwoot_inbox "x": libpq cannot parse it as a connection string/ ],
    [ 'import_database without a database', inbox_conf('import_database postgresql://cw:hunter2@db;'),
      qr/\[emerg\].*invalid "import_database" in chatwoot_inbox "x": it names no database/ ],
    [ 'missing import_database_file', inbox_conf("import_database_file $dir/nope;"),
      qr/\[emerg\].*open\(\) "\Q$dir\E\/nope" failed/ ],
    [ 'secret set twice', inbox_conf('webhook_secret a; webhook_secret b;'),
      qr/\[emerg\].*the webhook secret of chatwoot_inbox "x" is set twice/ ],
    [ 'whatsapp neither on nor off', inbox_conf('whatsapp yes;'),
      qr/\[emerg\].*invalid whatsapp "yes", it must be "on" or "off"/ ],
    [ 'whatsapp on with the synthetic device', inbox_conf("whatsapp on; synthetic_device $dir/dev;"),
      qr/\[emerg\].*chatwoot_inbox "x" has both "whatsapp on" and "synthetic_device": use one/ ],
    [ 'whatsapp_server not a WebSocket URL', inbox_conf('whatsapp_server https://web.whatsapp.com/ws/chat;'),
      qr/\[emerg\].*invalid whatsapp_server "https:\/\/web\.whatsapp\.com\/ws\/chat", e\.g\./ ],
    [ 'whatsapp_server ws:// without a root key', inbox_conf('whatsapp_server ws://127.0.0.1:9/ws;'),
      qr/\[emerg\].*whatsapp_server "ws:\/\/127\.0\.0\.1:9\/ws" is not TLS: "ws:\/\/" needs the test server's root_key=/ ],
    [ 'whatsapp_server short root key', inbox_conf('whatsapp_server wss://wa.test/ws root_key=abcd;'),
      qr/\[emerg\].*invalid whatsapp_server "root_key=abcd", the server's root key as 64 hex digits/ ],
    [ 'whatsapp_server unknown parameter', inbox_conf('whatsapp_server wss://wa.test/ws colour=blue;'),
      qr/\[emerg\].*invalid parameter "colour=blue" of whatsapp_server/ ],
    [ 'whatsapp_server missing ca_file', inbox_conf('whatsapp_server wss://wa.test/ws ca_file=nope.pem;'),
      qr/\[emerg\].*"whatsapp_server": open\(\) "\Q$dir\E\/nope\.pem" failed/ ],
    [ 'whatsapp_server ca_file without a certificate',
      inbox_conf('whatsapp_server wss://wa.test/ws ca_file=junk.pem;'),
      qr/\[emerg\].*invalid whatsapp_server "ca_file=\Q$dir\E\/junk\.pem": no PEM certificate in it/ ],
    [ 'whatsapp_server twice', inbox_conf('whatsapp_server wss://a.test/ws; whatsapp_server wss://b.test/ws;'),
      qr/\[emerg\].*"whatsapp_server" of chatwoot_inbox "x" is duplicate/ ],
    [ 'whatsapp_version malformed', inbox_conf('whatsapp_version 2.3000;'),
      qr/\[emerg\].*invalid whatsapp_version "2\.3000", "auto" or a version such as "2\.3000\.1029030078"/ ],
    [ 'whatsapp_device_name too long', inbox_conf('whatsapp_device_name ' . ('n' x 65) . ';'),
      qr/\[emerg\].*invalid whatsapp_device_name "n{65}", UTF-8 text of 1 to 64 bytes/ ],
    [ 'whatsapp_device_name not UTF-8', inbox_conf("whatsapp_device_name \"a\xc3(\";"),
      qr/\[emerg\].*invalid whatsapp_device_name "a\xc3\(", UTF-8 text/ ],
    [ 'whatsapp_proxy without a port', inbox_conf('whatsapp_proxy http://proxy.example;'),
      qr/\[emerg\].*invalid whatsapp_proxy "http:\/\/proxy\.example", e\.g\. "http:\/\/proxy\.example:3128"/ ],
    [ 'whatsapp_proxy with credentials', inbox_conf('whatsapp_proxy http://u:p@proxy.example:3128;'),
      qr/\[emerg\].*invalid whatsapp_proxy "http:\/\/u:p\@proxy\.example:3128"/ ],
    [ 'media_host with a path', inbox_conf('media_host s3.example.com/bucket;'),
      qr/\[emerg\].*invalid media_host "s3\.example\.com\/bucket" of chatwoot_inbox "x": a host \(and port\) is expected/ ],
    [ 'media_host of another scheme', inbox_conf('media_host ftp://files.example.com;'),
      qr/\[emerg\].*invalid media_host "ftp:\/\/files\.example\.com" of chatwoot_inbox "x": only http:\/\/ and https:\/\//ms ],
    [ 'duplicate inbox name', inbox_conf('') . ' chatwoot_inbox x { }',
      qr/\[emerg\].*duplicate chatwoot_inbox "x", first defined in/ ],
    [ 'more inbox blocks than devices the snapshot holds',
      "chatwoot_state_path $dir/state; " . join(' ', map { inbox_block("i$_", 'whatsapp off;') } 1 .. 129),
      qr/\[emerg\].*too many chatwoot_inbox blocks: at most 128, one WhatsApp device each/ ],
    [ 'bad inbox name', "chatwoot_state_path $dir/state; chatwoot_inbox 'a b' { }",
      qr/\[emerg\].*invalid chatwoot_inbox name "a b"/ ],
    [ 'webhook naming an unknown inbox',
      http_conf(server => 'location /other { chatwoot_webhook nosuch; }'),
      qr/\[emerg\].*"chatwoot_webhook" in \S+:\d+ names unknown chatwoot_inbox "nosuch"/ ],
    [ 'webhook without inbox name among two', http_conf(http => inbox_block('second')),
      qr/\[emerg\].*"chatwoot_webhook" in \S+:\d+ must name its chatwoot_inbox: 2 are defined/ ],
    [ 'webhook with no inbox at all',
      "chatwoot_state_path $dir/state; server { listen 127.0.0.1:$port; location /w { chatwoot_webhook; } }",
      qr/\[emerg\].*"chatwoot_webhook" in \S+:\d+ needs a chatwoot_inbox block/ ],
);

for my $case (@bad) {
    my ($name, $http, $want) = @$case;
    $t->write_config($http);
    my ($code, $text) = $t->test_config;
    isnt($code, 0, "$name: nginx -t fails");
    like($text, $want, "$name: the message names it") or diag $text;
    unlike($text, qr/hunter2/, "$name: the password is not repeated") if $name =~ /import_database/;
}

# The whatsapp_* directives' good forms pass, ca_file= relative to the prefix.
$t->write_file('ca.pem', "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
$t->write_config(http_conf(inbox => { extra => join("\n",
    'whatsapp on;',
    'whatsapp_server wss://wa.test:8443/ws/chat root_key=' . ('ab' x 32) . ' ca_file=ca.pem;',
    'whatsapp_version 2.3000.1029030078;',
    'whatsapp_device_name "Atendimento (nginx)";',
    'whatsapp_proxy http://127.0.0.1:3128;',
    'media_host s3.example.com http://minio.lan:9000;') . "\n" }));
{
    my ($c, $o) = $t->test_config;
    is($c, 0, 'whatsapp_* directives: nginx -t passes') or diag $o;
}

# master_process off: no helper could ever run.
$t->write_config(http_conf(), main => 'master_process off;');
{
    my $conf = $t->read_file('nginx.conf');
    $conf =~ s/^master_process on;$//m;
    $t->write_file('nginx.conf', $conf);
}
my ($code, $text) = $t->test_config;
isnt($code, 0, 'master_process off: nginx -t fails');
like($text, qr/\[emerg\].*"chatwoot_state_path" needs "master_process on"/,
     'master_process off: the message says why');

# webhook_token travels in the URL: nginx -t warns where a webhook location
# of a token inbox writes an access log, and only there.
my $token_inbox = { secret => undef, token => 'k' };
my $logged = "location = /logged { chatwoot_webhook; access_log $dir/access.log; }";
for my $case (
    [ 'token inbox, access_log on', http_conf(inbox => $token_inbox, server => $logged), 1 ],
    [ 'token inbox, access_log from the server',
      http_conf(inbox => $token_inbox, server => "access_log $dir/access.log;"), 1 ],
    [ 'token inbox, access_log off', http_conf(inbox => $token_inbox), 0 ],
    [ 'signed inbox, access_log on', http_conf(server => $logged), 0 ],
) {
    my ($name, $http, $warns) = @$case;
    $t->write_config($http);
    my ($c, $o) = $t->test_config;
    is($c, 0, "$name: nginx -t passes") or diag $o;
    my $warned = $o =~ /\[warn\].*"chatwoot_webhook" in \S+:\d+: the webhook_token of chatwoot_inbox "main" travels in the URL/;
    ok($warns ? $warned : !$warned, "$name: " . ($warns ? 'warns' : 'no warning')) or diag $o;
}

# Good forms pass.
$t->write_file('secret', "from-a-file\n");
$t->write_file('database', "host=/run/postgresql dbname=chatwoot user=cw password=pw\n");
for my $good (
    http_conf(),
    http_conf(zone => 'size=128k queue=1', webhook => 'max_body=16k'),
    http_conf(zone => 'size=64m queue=1048576',
              inbox => { url => 'https://chatwoot.example.com/ check=5m',
                         extra => "agent_signature on delimiter=--; reopen_resolved off;\n"
                                  . "open_as_pending on; ignore_groups on; control_conversation off; concurrency 32; rate 20r/s; device_timeout 30s; throttle_backoff 1s 30s;\n"
                                  . "ignore_jids 5511999999999\@s.whatsapp.net 120363000000000000\@g.us;\n" }),
    http_conf(inbox => { secret => undef, api_token => undef, extra => "webhook_secret_file $dir/secret;\napi_token_file $dir/secret;\n" }),
    http_conf(inbox => { secret => undef, extra => "webhook_token_file $dir/secret;\n" }),
    http_conf(inbox => { extra => "import_database postgresql://cw:pw\@db.internal:5432/chatwoot_production;\n" }),
    http_conf(inbox => { extra => "import_database_file $dir/database;\n" }),
) {
    $t->write_config($good);
    my ($c, $o) = $t->test_config;
    is($c, 0, 'a good configuration passes') or diag $o;
}

# The failures above went to this prefix's error.log on purpose.
$t->allow_log(qr/\[emerg\]/);
$t->finish;

# Without chatwoot_state_path the module is inert: nginx runs, no helper.
my $inert = ChatwootTest->new;
$inert->write_config("server { listen 127.0.0.1:$port; location / { return 204; } }");
$inert->run;
my ($status) = $inert->http($port, 'GET', '/');
is($status, 204, 'nginx serves with the module loaded and unused');
is_deeply($inert->helper_pids, [], 'no helper process without a state path');
ok(!-e $inert->dir . '/state', 'no state directory made');
$inert->finish;

done_testing;
