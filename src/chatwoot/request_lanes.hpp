// The REST client's bookkeeping of who may send now, sans-I/O: one lane
// (FIFO) per key, the first job of a lane the only one that may run, and at
// most `concurrency` jobs running across all lanes.
//
// A job may be urgent (the live path's, against an import's bulk work): its
// lane counts as urgent while it holds one, so the client can serve those
// lanes first, the bulk job at the head of such a lane included (it stands
// between the urgent one and its turn).
//
// Starting a job is a Claim: it marks the lane's first job running and
// takes a slot, and gives both back when it is dropped without keep().  So
// a start that throws half-way (the transport refused the request) cannot
// leave a lane marked running with nothing in flight: that lane, and one
// slot, would otherwise wait for an answer that never comes, until restart.
#pragma once

#include <cstddef>
#include <deque>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace chatwoot::rest {

template <typename Job>
class RequestLanes {
public:
    explicit RequestLanes(unsigned concurrency)
        : concurrency_(concurrency > 0 ? concurrency : 1)
    {
    }

    void push(const std::string& key, Job job, bool urgent = false)
    {
        Lane& lane = lanes_[key];
        lane.jobs.push_back(std::move(job));
        lane.urgent_flags.push_back(urgent);
        lane.urgent += urgent ? 1 : 0;
        queued_++;
    }

    size_t queued() const { return queued_; }     // running ones included
    unsigned running() const { return running_; }
    bool slot_free() const { return running_ < concurrency_; }

    // The first job of the key's lane, or nullptr when the lane is empty.
    Job* first(const std::string& key)
    {
        auto it = lanes_.find(key);
        return it == lanes_.end() ? nullptr : &it->second.jobs.front();
    }
    bool first_running(const std::string& key) const
    {
        auto it = lanes_.find(key);
        return it != lanes_.end() && it->second.running;
    }

    // Calls f(key, job) (or f(key, job, urgent): whether the lane holds an
    // urgent job) for the first job of each lane that is not running, until
    // f returns false.  f may claim (not push or pop).
    template <typename F>
    void for_each_waiting(F&& f)
    {
        for (auto& [key, lane] : lanes_) {
            if (lane.running) {
                continue;
            }
            bool go;
            if constexpr (std::is_invocable_v<F&, const std::string&, Job&, bool>) {
                go = f(key, lane.jobs.front(), lane.urgent > 0);
            } else {
                go = f(key, lane.jobs.front());
            }
            if (!go) {
                return;
            }
        }
    }

    class Claim {
    public:
        Claim(Claim&& other) noexcept
            : lanes_(std::exchange(other.lanes_, nullptr)), key_(std::move(other.key_))
        {
        }
        Claim& operator=(Claim&&) = delete;
        Claim(const Claim&) = delete;
        Claim& operator=(const Claim&) = delete;
        ~Claim()
        {
            if (lanes_ != nullptr) {
                lanes_->release(key_);
            }
        }

        Job& job() { return *lanes_->first(key_); }

        // The job is in flight: its lane and slot stay taken until
        // finished(key).
        void keep() noexcept { lanes_ = nullptr; }

    private:
        friend class RequestLanes;
        Claim(RequestLanes* lanes, std::string key) : lanes_(lanes), key_(std::move(key)) {}

        RequestLanes* lanes_;
        std::string key_;
    };

    // Marks the lane's first job running and takes a slot.  The lane must
    // have a waiting first job and a slot must be free.
    Claim claim(const std::string& key)
    {
        auto it = lanes_.find(key);
        if (it == lanes_.end() || it->second.running || !slot_free()) {
            throw std::logic_error("request lanes: nothing to claim for " + key);
        }
        it->second.running = true;
        running_++;
        return Claim(this, key);
    }

    // The key's running job got its answer: lane and slot are free again;
    // the job stays first in its lane (to be retried or popped).
    void finished(const std::string& key) { release(key); }

    // Takes the key's first job out of its lane (which must not be
    // running); an emptied lane is forgotten.
    Job pop(const std::string& key)
    {
        auto it = lanes_.find(key);
        if (it == lanes_.end() || it->second.running) {
            throw std::logic_error("request lanes: cannot pop " + key);
        }
        Job job = std::move(it->second.jobs.front());
        it->second.jobs.pop_front();
        it->second.urgent -= it->second.urgent_flags.front() ? 1 : 0;
        it->second.urgent_flags.pop_front();
        queued_--;
        if (it->second.jobs.empty()) {
            lanes_.erase(it);
        }
        return job;
    }

private:
    struct Lane {
        std::deque<Job> jobs;   // never empty while the lane exists
        std::deque<bool> urgent_flags;   // beside jobs
        size_t urgent = 0;      // urgent jobs in the lane
        bool running = false;   // jobs.front() is in flight
    };

    void release(const std::string& key) noexcept
    {
        auto it = lanes_.find(key);
        if (it != lanes_.end() && it->second.running) {
            it->second.running = false;
            running_--;
        }
    }

    unsigned concurrency_;
    std::unordered_map<std::string, Lane> lanes_;
    size_t queued_ = 0;
    unsigned running_ = 0;
};

}  // namespace chatwoot::rest
