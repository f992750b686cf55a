// A migrated store in a directory of its own, removed at the end of the
// test: what the store's and the helper's unit tests write into.
#pragma once

#include "store/schema.hpp"
#include "store/sqlite_handle.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::test {

struct TempStore {
    explicit TempStore(const std::string& name)
    {
        std::string tmpl = "/tmp/" + name + "-XXXXXX";
        dir = mkdtemp(tmpl.data());
        db.emplace(store::Database::open(dir + "/chatwoot.db"));
        store::migrate(*db);
    }
    ~TempStore()
    {
        db.reset();
        std::filesystem::remove_all(dir);
    }
    TempStore(const TempStore&) = delete;
    TempStore& operator=(const TempStore&) = delete;

    // The first column of the first row.
    int64_t scalar(const std::string& sql)
    {
        auto st = db->prepare(sql);
        st.step();
        return st.column_int(0);
    }

    // Every row, each column as text ("" for NULL).
    std::vector<std::vector<std::string>> rows(const std::string& sql)
    {
        std::vector<std::vector<std::string>> out;
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db->raw(), sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
            ADD_FAILURE() << sqlite3_errmsg(db->raw()) << " in " << sql;
            return out;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const auto* text = sqlite3_column_text(st, i);
                row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
            }
            out.push_back(std::move(row));
        }
        sqlite3_finalize(st);
        return out;
    }

    std::string dir;
    std::optional<store::Database> db;
};

}  // namespace chatwoot::test
