# whatsapp_proxy: the WebSocket goes through an HTTP CONNECT proxy
# (t/mock/wa/connect-proxy.mjs, which records each tunnel it opens).  The
# device pairs and logs in through it, reconnects through it, says why
# while the proxy is down (and never goes around it), and comes back
# through it.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::WaMock;
use POSIX ();
use Test::More;

my $t = ChatwootTest->new;
my $dir = $t->dir;
my $proxy_port = free_port();
my $runs = 0;

# t/mock/wa/connect-proxy.mjs on $proxy_port (the same port each time, so
# the configuration stays): one line per tunnel it opens on its stdout,
# kept in a file per run.  Returns its pid once it says ready.
sub start_proxy {
    my $out = "$dir/proxy-" . ++$runs . '.log';
    my $pid = $t->run_daemon(sub {
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>>', "$dir/proxy.stderr" or POSIX::_exit(126);
        exec('node', 't/mock/wa/connect-proxy.mjs', '--port', $proxy_port) or POSIX::_exit(127);
    });
    $t->wait_for(sub { -s $out && $t->read_file("proxy-$runs.log") =~ /^ready / }, 20, 'the proxy ready');
    return $pid;
}

# Every tunnel opened so far, over all runs: "connect host:port".
sub tunnels {
    return [map { $t->read_file("proxy-$_.log") =~ /^(connect \S+)$/mg } 1 .. $runs];
}

my $proxy = start_proxy();
my $wa = ChatwootTest::WaMock->start($t);
my ($mock_port) = $wa->url =~ m{:(\d+)/};
my ($port) = $t->start_wa(wa => $wa, inbox => { extra => "        whatsapp_proxy http://127.0.0.1:$proxy_port;\n" });

my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
is_deeply(tunnels(), ["connect 127.0.0.1:$mock_port", "connect 127.0.0.1:$mock_port"],
          'paired through the proxy: the registration and the login each through a tunnel');
is(scalar @{$wa->connections}, 2, 'and the mock saw just those two connections');

# A lost connection comes back through the proxy.
my $since = $wa->last_seq;
$wa->drop($p->{login}{conn});
my $hs = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($hs->{client}{kind}, 'login', 'after a cut: a login');
$wa->wait(type => 'passive', conn => $hs->{conn}, since => $since);
is(scalar @{tunnels()}, 3, 'through a third tunnel');

# The proxy goes away: the device does not go around it.
kill 'TERM', $proxy;
waitpid $proxy, 0;
$t->{daemons} = [grep { $_ != $proxy } @{$t->{daemons}}];
$since = $wa->last_seq;
$wa->wait(type => 'closed', conn => $hs->{conn}, since => $since - 1);
my $d = $t->wait_device('main', sub { ($_[0]{error} // '') =~ /connect_failed/ }, 20,
                        'a connection attempt failing, the proxy down');
is($d->{state}, 'connecting', 'the proxy down: the device keeps trying');
like($d->{error}, qr/Failed to connect to 127\.0\.0\.1 port $proxy_port\b/,
     "and says it cannot connect to the proxy: $d->{error}");
ok(eval { $t->wait_log(qr/\[warn\].*inbox "main": WhatsApp connection lost \(transient: connect_failed: .*port $proxy_port\b.*Couldn't connect to server\); reconnecting/) },
   'the failed attempt is logged at warn, whole') or diag $@;
is_deeply($wa->events(type => 'connected', since => $since), [], 'no connection reaches the mock without the proxy');

# The proxy is back: so is the device.
$proxy = start_proxy();
$since = $wa->last_seq;
$t->device_command('main', 'pair');
$hs = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($hs->{client}{kind}, 'login', 'the proxy back: a login');
$t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{connected_since} >= int($hs->{at} / 1000) },
                20, 'connected through the proxy again');
is(scalar @{tunnels()}, 4, 'through a fourth tunnel');
$t->finish;
done_testing;
