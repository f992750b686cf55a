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

my $port = free_port();
sub http_conf {
    my (%o) = @_;
    return $t->chatwoot_http(port => $port, %o);
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
      "server { listen 127.0.0.1:$port; location /w { chatwoot_webhook; } }",
      qr/\[emerg\].*"chatwoot_webhook" in \S+nginx\.conf:\d+ needs "chatwoot_state_path" in the http block/ ],
    [ 'status without a state path',
      "server { listen 127.0.0.1:$port; location /s { chatwoot_status; } }",
      qr/\[emerg\].*"chatwoot_status" in \S+nginx\.conf:\d+ needs "chatwoot_state_path"/ ],
    [ 'webhook in the http block', http_conf(http => 'chatwoot_webhook;'),
      qr/\[emerg\].*"chatwoot_webhook" directive is not allowed here/ ],
    [ 'two handlers in one location',
      http_conf(server => 'location /both { chatwoot_webhook; chatwoot_status; }'),
      qr/\[emerg\].*this location already has a chatwoot handler/ ],
    [ 'state path twice', http_conf(http => "chatwoot_state_path $dir/other;"),
      qr/\[emerg\].*"chatwoot_state_path" directive is duplicate/ ],
    [ 'state path in a server', "server { chatwoot_state_path $dir/s; }",
      qr/\[emerg\].*"chatwoot_state_path" directive is not allowed here/ ],
    [ 'url with another scheme', http_conf(http => 'chatwoot_url ftp://chatwoot.example;'),
      qr/\[emerg\].*invalid Chatwoot URL "ftp:\/\/chatwoot\.example", it must start with "http:\/\/" or "https:\/\/"/ ],
    [ 'url check interval too short', http_conf(http => 'chatwoot_url http://127.0.0.1:1 check=100ms;'),
      qr/\[emerg\].*invalid check interval "check=100ms", it must be 1s or more/ ],
    [ 'url unknown parameter', http_conf(http => 'chatwoot_url http://127.0.0.1:1 every=5s;'),
      qr/\[emerg\].*invalid parameter "every=5s"/ ],
    [ 'url twice', http_conf(http => 'chatwoot_url http://a.example; chatwoot_url http://b.example;'),
      qr/\[emerg\].*"chatwoot_url" directive is duplicate/ ],
);

for my $case (@bad) {
    my ($name, $http, $want) = @$case;
    $t->write_config($http);
    my ($code, $text) = $t->test_config;
    isnt($code, 0, "$name: nginx -t fails");
    like($text, $want, "$name: the message names it") or diag $text;
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

# Good forms pass.
for my $good (
    http_conf(),
    http_conf(zone => 'size=128k queue=1', webhook => 'max_body=16k'),
    http_conf(zone => 'size=64m queue=1048576',
              http => 'chatwoot_url https://chatwoot.example.com/ check=5m;'),
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
