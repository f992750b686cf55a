# whatsapp_proxy: the WebSocket goes through an HTTP CONNECT proxy (a
# small one here, which records each tunnel it opens).  The device pairs
# and logs in through it, reconnects through it, says why while the proxy
# is down (and never goes around it), and comes back through it.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::WaMock;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Test::More;

my $t = ChatwootTest->new;
my $dir = $t->dir;
my $proxy_port = free_port();
my $proxy_log = "$dir/proxy.log";

# A CONNECT proxy on $proxy_port: one process per tunnel, each tunnel's
# target appended to proxy.log once it is open.  TERM ends it and its
# tunnels (one process group).
sub start_proxy {
    my $listen = IO::Socket::INET->new(Listen => 16, LocalAddr => "127.0.0.1:$proxy_port", ReuseAddr => 1)
        or die "proxy listen: $!";
    my $pid = $t->run_daemon(sub {
        setpgrp(0, 0);
        $SIG{TERM} = sub { $SIG{TERM} = 'IGNORE'; kill 'TERM', -$$; POSIX::_exit(0) };
        $SIG{CHLD} = 'IGNORE';
        while (1) {
            my $c = $listen->accept or next;
            my $child = fork;
            if (!defined $child || $child) {
                close $c;
                next;
            }
            $SIG{TERM} = 'DEFAULT';
            tunnel($c);
            POSIX::_exit(0);
        }
    });
    close $listen;
    return $pid;
}

sub tunnel {
    my ($c) = @_;
    my $head = '';
    # Byte by byte: what follows the request belongs to the tunnel.
    while ($head !~ /\r\n\r\n\z/) {
        sysread($c, $head, 1, length $head) or return;
    }
    my ($target) = $head =~ m{^CONNECT (\S+) HTTP/1\.[01]\r\n};
    if (!$target) {
        syswrite $c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return;
    }
    my $up = IO::Socket::INET->new(PeerAddr => $target, Timeout => 5);
    if (!$up) {
        syswrite $c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        return;
    }
    syswrite $c, "HTTP/1.1 200 Connection established\r\n\r\n";
    open my $log, '>>', $proxy_log or return;
    syswrite $log, "CONNECT $target\n";
    close $log;
    my $sel = IO::Select->new($c, $up);
    while (my @ready = $sel->can_read) {
        for my $h (@ready) {
            my $n = sysread $h, my $buf, 65536;
            return unless $n;
            my $to = $h == $c ? $up : $c;
            my $off = 0;
            while ($off < $n) {
                my $w = syswrite $to, $buf, $n - $off, $off;
                return unless $w;
                $off += $w;
            }
        }
    }
}

sub tunnels {
    open my $fh, '<', $proxy_log or return [];
    return [map { chomp; $_ } <$fh>];
}

my $proxy = start_proxy();
my $wa = ChatwootTest::WaMock->start($t);
my ($mock_port) = $wa->url =~ m{:(\d+)/};
my ($port) = $t->start_wa(wa => $wa, inbox => { extra => "        whatsapp_proxy http://127.0.0.1:$proxy_port;\n" });

my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
is_deeply(tunnels(), ["CONNECT 127.0.0.1:$mock_port", "CONNECT 127.0.0.1:$mock_port"],
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
like($d->{error}, qr/Couldn't connect/, "and says it cannot connect: $d->{error}");
TODO: {
    local $TODO = 'the reason names the server, not the proxy it could not reach';
    like($d->{error}, qr/\Q127.0.0.1:$proxy_port\E|proxy/i, 'naming the proxy');
}
ok(eval { $t->wait_log(qr/\[warn\].*inbox "main": WhatsApp connection lost \(transient: connect_failed: .*\); reconnecting/) },
   'the failed attempt is logged at warn') or diag $@;
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
