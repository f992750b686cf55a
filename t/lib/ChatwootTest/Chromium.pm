package ChatwootTest::Chromium;

# Real headless Chromium (Debian's `chromium`) for tests of the pages the
# module serves, driven over the DevTools protocol (CDP) on a WebSocket with
# Mojo::UserAgent: open a page, evaluate JavaScript in it, wait in the page
# for a condition (a DOM mutation or a loaded image: an event, not a
# sleep), take a screenshot.
#
#   my $browser = ChatwootTest::Chromium->start($t);
#   my $page = $browser->open("http://127.0.0.1:$port/chatwoot/devices/main/login");
#   $page->wait_until(q{document.body.innerText.includes('Linked as')});
#   my $png = $page->screenshot;
#
# The browser reaches loopback only: every other host goes to a dead proxy
# and resolves to nothing, and its background services (updates, sync,
# safe browsing...) are off, so a test never sends traffic off the machine.
# It runs in a process group of its own, which stop() (or the object's end)
# takes down whole.

use strict;
use warnings;

use Carp qw(croak);
use File::Path qw(make_path);
use JSON::PP qw(decode_json);
use MIME::Base64 qw(decode_base64);
use Mojo::IOLoop;
use Mojo::UserAgent;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

my $CHROMIUM = $ENV{CHROMIUM_BINARY} // '/usr/bin/chromium';

sub available { -x $CHROMIUM }

sub start {
    my ($class, $t, %opts) = @_;
    croak "$CHROMIUM is not installed (build.sh installs Debian's chromium)" unless available();
    my $profile = $t->dir . '/chromium-' . ($opts{name} // 'profile');
    make_path($profile);
    unlink "$profile/DevToolsActivePort";
    my ($w, $h) = @{$opts{window} // [900, 1100]};
    my @args = (
        '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
        "--user-data-dir=$profile", "--window-size=$w,$h", '--hide-scrollbars',
        '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0',
        # loopback only, whatever the browser would like to fetch
        '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=127.0.0.1',
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-default-apps', '--disable-extensions', '--disable-domain-reliability',
        '--disable-client-side-phishing-detection', '--no-pings', '--no-first-run',
        '--no-default-browser-check', '--metrics-recording-only', '--mute-audio',
        '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication',
        'about:blank',
    );
    my $log = $t->dir . '/chromium.log';
    my $pid = fork // croak "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDOUT, '>>', $log;
        open STDERR, '>>', $log;
        exec($CHROMIUM, @args) or POSIX::_exit(127);
    }
    my $self = bless { pid => $pid, t => $t, log => $log, id => 0, replies => {},
                       events => [] }, $class;

    # The browser writes its DevTools port and path once it listens.
    my $active = "$profile/DevToolsActivePort";
    my ($port, $path) = @{ $t->wait_for(sub {
        croak "chromium exited at start:\n" . $t->read_file('chromium.log')
            if waitpid($pid, WNOHANG) == $pid;
        open my $fh, '<', $active or return;
        my @lines = map { s/\s+\z//r } <$fh>;
        @lines >= 2 && $lines[0] =~ /^\d+$/ ? [@lines[0, 1]] : undef;
    }, 30, 'chromium listening') };

    my $ua = Mojo::UserAgent->new(connect_timeout => 10, inactivity_timeout => 0);
    $self->{ua} = $ua;
    my ($done, $err);
    $ua->websocket("ws://127.0.0.1:$port$path" => sub {
        my (undef, $tx) = @_;
        $done = 1;
        if (!$tx->is_websocket) {
            $err = 'no WebSocket: ' . ($tx->res->code // $tx->error->{message} // '?');
            return;
        }
        # screenshots are megabytes of base64
        $tx->max_websocket_size(64 * 1024 * 1024);
        $tx->on(json => sub { $self->_received($_[1]) });
        $tx->on(finish => sub { $self->{closed} = 1 });
        $self->{tx} = $tx;
    });
    $self->_spin(sub { $done }, 15, 'the DevTools WebSocket');
    croak "chromium DevTools: $err" if $err;
    return $self;
}

sub _received {
    my ($self, $msg) = @_;
    if (defined $msg->{id}) {
        $self->{replies}{$msg->{id}} = $msg;
    } else {
        push @{$self->{events}}, $msg;
    }
}

# Runs the event loop until $check is true; croaks after $timeout seconds.
sub _spin {
    my ($self, $check, $timeout, $what) = @_;
    my $deadline = time + $timeout;
    # one_tick returns at the latest at this timer's next beat
    my $beat = Mojo::IOLoop->recurring(0.1 => sub {});
    until ($check->()) {
        if (time > $deadline || $self->{closed}) {
            Mojo::IOLoop->remove($beat);
            croak "chromium: timed out waiting for $what"
                . ($self->{closed} ? ' (the DevTools connection closed)' : '');
        }
        Mojo::IOLoop->one_tick;
    }
    Mojo::IOLoop->remove($beat);
}

# A CDP command (on a page's session when $session is given): its result,
# or a croak with the protocol's error.
sub call {
    my ($self, $method, $params, $session, $timeout) = @_;
    my $id = ++$self->{id};
    my $msg = { id => $id, method => $method, params => $params // {} };
    $msg->{sessionId} = $session if defined $session;
    $self->{tx}->send({ json => $msg });
    $self->_spin(sub { exists $self->{replies}{$id} }, $timeout // 30, $method);
    my $reply = delete $self->{replies}{$id};
    croak "chromium: $method: $reply->{error}{message}" if $reply->{error};
    return $reply->{result};
}

# A new tab on $url, attached: a ChatwootTest::Chromium::Page.  Each page
# records the Content-Security-Policy violations it meets (a listener put
# in before any of its own scripts runs).
sub open {
    my ($self, $url) = @_;
    my $target = $self->call('Target.createTarget', { url => 'about:blank' })->{targetId};
    my $session = $self->call('Target.attachToTarget',
                              { targetId => $target, flatten => JSON::PP::true })->{sessionId};
    my $page = ChatwootTest::Chromium::Page->new($self, $session, $target);
    $self->call('Page.enable', {}, $session);
    $self->call('Page.addScriptToEvaluateOnNewDocument', { source => q{
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
        });
    } }, $session);
    $page->go($url);
    return $page;
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    eval { $self->{tx}->finish if $self->{tx} };
    kill 'TERM', -$pid;
    for (1 .. 100) {
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', -$pid if kill 0, $pid;
    waitpid $pid, 0;
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    $self->stop;
}

package ChatwootTest::Chromium::Page;

use Carp qw(croak);
use JSON::PP qw(encode_json);
use MIME::Base64 qw(decode_base64);

sub new {
    my ($class, $browser, $session, $target) = @_;
    return bless { browser => $browser, session => $session, target => $target }, $class;
}

# Navigates and waits for the load event.
sub go {
    my ($self, $url) = @_;
    my $b = $self->{browser};
    @{$b->{events}} = grep { ($_->{sessionId} // '') ne $self->{session} } @{$b->{events}};
    my $nav = $b->call('Page.navigate', { url => $url }, $self->{session});
    croak "chromium: navigating to $url: $nav->{errorText}" if $nav->{errorText};
    $b->_spin(sub {
        grep { ($_->{sessionId} // '') eq $self->{session} && $_->{method} eq 'Page.loadEventFired' }
            @{$b->{events}};
    }, 30, "$url to load");
    return $self;
}

# The value of a JavaScript expression (awaited when it is a promise);
# croaks with the page's exception.
sub js {
    my ($self, $js, $timeout) = @_;
    my $r = $self->{browser}->call('Runtime.evaluate', {
        expression => $js, awaitPromise => JSON::PP::true, returnByValue => JSON::PP::true,
    }, $self->{session}, $timeout);
    if (my $e = $r->{exceptionDetails}) {
        croak 'chromium: page exception: '
            . ($e->{exception}{description} // $e->{text} // encode_json($e));
    }
    return $r->{result}{value};
}

# Waits in the page until the expression $cond is truthy: checked on every
# DOM change and every 100 ms (an image's load is no DOM change), so the
# wait ends at the event; croaks after $timeout seconds with the page's
# text.  Returns the expression's value.
sub wait_until {
    my ($self, $cond, $timeout) = @_;
    $timeout //= 20;
    my $ms = int($timeout * 1000);
    my $v = $self->js(qq{
        new Promise((resolve) => {
            let observer = null, beat = 0, limit = 0;
            const done = (v) => {
                if (observer) observer.disconnect();
                clearInterval(beat);
                clearTimeout(limit);
                resolve(v);
            };
            const check = () => {
                let v;
                try { v = ($cond); } catch (e) { v = false; }
                if (v) done({ ok: true, value: v });
                return !!v;
            };
            if (check()) return;
            observer = new MutationObserver(check);
            observer.observe(document, { subtree: true, childList: true,
                                         characterData: true, attributes: true });
            beat = setInterval(check, 100);
            limit = setTimeout(() => done({ ok: false, text: document.body
                ? document.body.innerText : '' }), $ms);
        })
    }, $timeout + 10);
    croak "chromium: timed out waiting for ($cond); the page says:\n$v->{text}" unless $v->{ok};
    return $v->{value};
}

sub text { $_[0]->js('document.body.innerText') }

# A PNG of the viewport.
sub screenshot {
    my ($self) = @_;
    my $r = $self->{browser}->call('Page.captureScreenshot', { format => 'png' },
                                   $self->{session});
    return decode_base64($r->{data});
}

sub csp_violations { @{ $_[0]->js('window.__cspViolations || []') } }

1;
